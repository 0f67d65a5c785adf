variable "value" {
  type = string
}

resource "terraform_data" "v" {
  input = templatefile("${path.module}/value.tftpl", { value = var.value })
}

output "value" {
  value = terraform_data.v.output
}
