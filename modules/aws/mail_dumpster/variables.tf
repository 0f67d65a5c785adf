variable "vpc_id" {
  description = "VPC of the stack."
  type        = string
}

variable "vpc_cidr_block" {
  description = "VPC CIDR block: SMTP clients and load balancer health checks come from it."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the load balancer and instances."
  type        = list(string)
}

variable "instance_type" {
  description = "Instance type; must match the AMI's architecture (arm64 by default)."
  type        = string
  default     = "t4g.nano"
}

variable "instance_count" {
  description = "SMTP sink instances; the step waits until all are healthy."
  type        = number
  default     = 1
}

variable "smtp_port" {
  description = "Port the load balancer and the sink listen on."
  type        = number
  default     = 25
}

variable "zone_id" {
  description = "Route 53 hosted zone for the record; \"\" creates a private zone <name>.<zone_suffix> in the VPC."
  type        = string
  default     = ""
}

variable "zone_suffix" {
  description = "Suffix of the private zone created when zone_id is \"\"."
  type        = string
  default     = "synthetic.internal"
}

variable "record_name" {
  description = "Name of the record in the zone."
  type        = string
  default     = "mail"
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

variable "stack_binary_s3_uri" {
  description = "s3://bucket/key of a linux build of stack: the sink then runs `stack dumpster --journal --smtp`, an e2e probe (one instance). \"\" keeps the plain sink."
  type        = string
  default     = ""

  validation {
    condition     = var.stack_binary_s3_uri == "" || can(regex("^s3://[^/]+/.+$", var.stack_binary_s3_uri))
    error_message = "stack_binary_s3_uri must look like s3://bucket/path/to/stack."
  }
}

variable "probe_port" {
  description = "Port of the probe's pull endpoint (probe mode)."
  type        = number
  default     = 8025
}
