# workers: the demo's stand-in for the Auto Scaling group that processes the queue.

variable "queue_url" {
  type = string
}

variable "db_endpoint" {
  type = string
}

variable "count_per_az" {
  type    = number
  default = 1
}

resource "terraform_data" "worker" {
  count = var.count_per_az
  input = "worker-${count.index} <- ${var.queue_url}"
}

output "worker_ids" {
  value = terraform_data.worker[*].output
}

variable "stack_identity" {
  description = "Set by stack: the stack and step that own these resources."
  type        = object({ stack = string, step = string })
  default     = null
}
