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
