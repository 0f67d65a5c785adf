# dns: the demo's stand-in for the records that point at the webhook tier.

variable "stack_name" {
  type = string
}

variable "target" {
  type = string
}

resource "terraform_data" "record" {
  input = "${var.stack_name}.synthetic.local -> ${var.target}"
}

output "fqdn" {
  value = "${var.stack_name}.synthetic.local"
}

variable "stack_identity" {
  description = "Set by stack: the stack and step that own these resources."
  type        = object({ stack = string, step = string })
  default     = null
}
