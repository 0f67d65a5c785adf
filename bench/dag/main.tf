# A unit of the DAG benchmark: sleeps for `seconds` during apply.

variable "seconds" {
  type = number
}

variable "after" {
  type    = list(string)
  default = []
}

resource "terraform_data" "sleep" {
  input = var.after
  provisioner "local-exec" {
    command = "sleep ${var.seconds}"
  }
}

output "done" {
  value = "${var.seconds}s"
}
