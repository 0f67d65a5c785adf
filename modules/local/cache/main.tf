# cache: the demo's stand-in for an ElastiCache Redis: one node or a cluster.

variable "subnet_ids" {
  type = list(string)
}

variable "nodes" {
  type    = number
  default = 1
}

resource "terraform_data" "node" {
  count = var.nodes
  input = "redis-${count.index}.cache.internal"
}

output "primary_endpoint" {
  value = terraform_data.node[0].output
}

output "cluster_mode" {
  value = var.nodes > 1
}

variable "stack_identity" {
  description = "Set by stack: the stack and step that own these resources."
  type        = object({ stack = string, step = string })
  default     = null
}
