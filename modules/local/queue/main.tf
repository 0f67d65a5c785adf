# queue: the demo's stand-in for the SQS queue between the webhook tier and the workers.

variable "name" {
  type = string
}

resource "terraform_data" "queue" {
  input = "https://sqs.local/000000000000/${var.name}"
}

resource "terraform_data" "dlq" {
  input = "https://sqs.local/000000000000/${var.name}-dlq"
}

output "queue_url" {
  value = terraform_data.queue.output
}

output "dlq_url" {
  value = terraform_data.dlq.output
}

variable "stack_identity" {
  description = "Set by stack: the stack and step that own these resources."
  type        = object({ stack = string, step = string })
  default     = null
}
