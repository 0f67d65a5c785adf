variable "value" {
  type = string
}

variable "secret" {
  type      = string
  default   = "s3cr3t-default"
  sensitive = true
}

resource "terraform_data" "v" {
  input = var.value
}

output "value" {
  value = terraform_data.v.output
}

output "secret" {
  value     = "${var.secret}-${terraform_data.v.output}"
  sensitive = true
}
