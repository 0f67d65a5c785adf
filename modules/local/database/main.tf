# database: the demo's stand-in for an Aurora cluster restored from a snapshot.

variable "subnet_ids" {
  type = list(string)
}

variable "instances" {
  type    = number
  default = 1
}

variable "instance_class" {
  type    = string
  default = "db.t4g.medium"
}

resource "terraform_data" "cluster" {
  input = {
    endpoint = "db.${length(var.subnet_ids)}az.internal"
    class    = var.instance_class
  }
}

resource "terraform_data" "instance" {
  count = var.instances
  input = "${var.instance_class}-${count.index}"
}

resource "terraform_data" "password" {
  input = sha256("demo-${terraform_data.cluster.id}")
}

output "endpoint" {
  value = terraform_data.cluster.output.endpoint
}

output "instance_ids" {
  value = terraform_data.instance[*].output
}

output "port" {
  value = 3306
}

output "password" {
  value     = terraform_data.password.output
  sensitive = true
}

variable "stack_identity" {
  description = "Set by stack: the stack and step that own these resources."
  type        = object({ stack = string, step = string })
  default     = null
}
