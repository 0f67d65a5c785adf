variable "private_subnet_ids" {
  description = "Subnets for the workers."
  type        = list(string)
}

variable "app_security_group_id" {
  description = "Security group of the instances (admitted by Redis and Aurora)."
  type        = string
}

variable "queue_url" {
  description = "Inbound SQS queue to drain."
  type        = string
}

variable "queue_arn" {
  description = "ARN of that queue, for the instance role."
  type        = string
}

variable "redis_endpoint" {
  description = "Redis host, passed to the worker as REDIS_ENDPOINT."
  type        = string
}

variable "db_host" {
  description = "Aurora writer endpoint, passed to the worker as DB_HOST."
  type        = string
  default     = ""
}

variable "instance_type" {
  description = "Instance type; must match the AMI's architecture (arm64 by default)."
  type        = string
  default     = "t4g.small"
}

variable "instance_count" {
  description = "Workers to run."
  type        = number
  default     = 1
}

variable "max_size" {
  description = "Upper bound for scaling out by hand during a test (at least instance_count)."
  type        = number
  default     = 0
}

variable "threads_per_instance" {
  description = "Consumer threads per worker instance."
  type        = number
  default     = 4
}

variable "wait_for_capacity_timeout" {
  description = "How long to wait for the instances to start before the step fails."
  type        = string
  default     = "10m"
}

variable "ami_id" {
  description = "Worker image; \"\" uses the latest Amazon Linux 2023 from ami_ssm_parameter."
  type        = string
  default     = ""
}

variable "ami_ssm_parameter" {
  description = "SSM parameter holding the default AMI id."
  type        = string
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
}

variable "user_data" {
  description = "Instance user data; \"\" runs the stand-in worker."
  type        = string
  default     = ""
}
