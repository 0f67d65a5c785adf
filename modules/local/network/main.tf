# network: the demo's stand-in for a VPC. It makes only Terraform's built-in
# terraform_data resources, so it needs no provider download and no cloud.

variable "stack_name" {
  type        = string
  description = "Name of the stack, used to name things."
}

variable "azs" {
  type        = number
  default     = 1
  description = "How many availability zones the network spans."
}

variable "cidr" {
  type    = string
  default = "10.42.0.0/16"
}

resource "terraform_data" "vpc" {
  input = {
    id   = "vpc-${var.stack_name}"
    cidr = var.cidr
  }
}

resource "terraform_data" "subnet" {
  count = var.azs
  input = cidrsubnet(var.cidr, 8, count.index)
}

output "vpc_id" {
  value = terraform_data.vpc.output.id
}

output "private_subnet_ids" {
  value = [for i, s in terraform_data.subnet : "subnet-${i}-${replace(s.output, "/", "_")}"]
}

variable "stack_identity" {
  description = "Set by stack: the stack and step that own these resources."
  type        = object({ stack = string, step = string })
  default     = null
}
