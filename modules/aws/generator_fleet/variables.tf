variable "vpc_id" {
  description = "VPC of the stack."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets for the generators (private, with a NAT gateway)."
  type        = list(string)
}

variable "instance_count" {
  description = "Generator instances (0 runs none)."
  type        = number
  default     = 0

  validation {
    condition     = var.instance_count == 0 || (var.stack_binary_s3_uri != "" && var.zookeeper != "" && var.worker_group != "")
    error_message = "Set stack_binary_s3_uri (a linux build of stack in S3), zookeeper (the stack's ZooKeeper) and worker_group when instance_count is above 0."
  }
}

variable "instance_type" {
  description = "Instance type; must match the AMI's architecture (arm64 by default)."
  type        = string
  default     = "c7g.large"
}

variable "stack_binary_s3_uri" {
  description = "s3://bucket/key of a linux build of stack for the instances' architecture."
  type        = string
  default     = ""

  validation {
    condition     = var.stack_binary_s3_uri == "" || can(regex("^s3://[^/]+/.+$", var.stack_binary_s3_uri))
    error_message = "stack_binary_s3_uri must look like s3://bucket/path/to/stack."
  }
}

variable "zookeeper" {
  description = "ZooKeeper connect string the workers coordinate through (host:port,...)."
  type        = string
  default     = ""
}

variable "worker_group" {
  description = "Group the workers join (`stack load-worker --group`); the generator step's workers.group names the same."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[^/ ]*$", var.worker_group))
    error_message = "worker_group must not contain slashes or spaces."
  }
}

variable "worker_args" {
  description = "Extra arguments of `stack load-worker` on each instance, e.g. [\"--metrics-addr\", \":9464\"]."
  type        = list(string)
  default     = []
}

variable "ami_id" {
  description = "Image; \"\" uses the latest Amazon Linux 2023 from ami_ssm_parameter."
  type        = string
  default     = ""
}

variable "ami_ssm_parameter" {
  description = "SSM parameter holding the default AMI id."
  type        = string
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
}

variable "probe_token" {
  description = "Bearer token of the stack's e2e probes (the mail dumpster's probe_token), for the workers' pulls: STACK_PROBE_TOKEN."
  type        = string
  default     = ""
  sensitive   = true
}
