# Shared by every module in modules/aws: each holds a relative symlink
# stack.tf -> ../_shared/stack.tf (Terraform reads it through the link, and
# stack copies its content). It declares the provider pin, the AWS provider
# with the stack's default tags, and the variables every module takes; a
# module's own variables.tf declares only what is its own.

terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
  # No backend block: stack generates one per stack and step.
}

provider "aws" {
  region = var.region

  # The stack's identity goes on every resource, so `stack down` and
  # `stack plan` can find one that no state knows.
  default_tags {
    tags = merge(var.tags, var.stack_identity == null ? {} : {
      "stack"      = var.stack_identity.stack
      "stack-step" = var.stack_identity.step
    })
  }
}

variable "name" {
  description = "Name prefix for every resource; the stack passes its own name."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "stack_identity" {
  description = "Set by stack: the stack and step that own these resources (tagged on each)."
  type        = object({ stack = string, step = string })
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
