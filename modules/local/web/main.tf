# web: the demo's stand-in for the inbound webhook tier (load balancer + instances).

variable "db_endpoint" {
  type = string
}

variable "cache_endpoint" {
  type = string
}

variable "queue_url" {
  type = string
}

variable "instances" {
  type    = number
  default = 1
}

resource "terraform_data" "lb" {
  input = {
    url    = "http://web.local/webhooks/sms"
    config = "${var.db_endpoint}|${var.cache_endpoint}|${var.queue_url}"
  }
}

resource "terraform_data" "instance" {
  count = var.instances
  input = "web-${count.index}"
}

output "webhook_url" {
  value = terraform_data.lb.output.url
}

output "instance_count" {
  value = var.instances
}

variable "stack_identity" {
  description = "Set by stack: the stack and step that own these resources."
  type        = object({ stack = string, step = string })
  default     = null
}
