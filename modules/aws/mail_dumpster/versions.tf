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

  default_tags {
    tags = var.tags
  }
}
