variable "seconds" {
  type    = number
  default = 1
}

variable "tag" {
  type    = string
  default = ""
}

resource "terraform_data" "sleep" {
  input = var.tag
  provisioner "local-exec" {
    command = "sleep ${var.seconds}"
  }
}

output "tag" {
  value = terraform_data.sleep.output
}
