variable "vpc_id" {
  description = "VPC of the stack."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets for the load balancer (at least two AZs)."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets for the instances."
  type        = list(string)
}

variable "alb_security_group_id" {
  description = "Security group of the load balancer."
  type        = string
}

variable "app_security_group_id" {
  description = "Security group of the instances."
  type        = string
}

variable "queue_url" {
  description = "Inbound SQS queue the webhook puts messages on."
  type        = string
}

variable "queue_arn" {
  description = "ARN of that queue, for the instance role."
  type        = string
}

variable "redis_endpoint" {
  description = "Redis host, passed to the application as REDIS_ENDPOINT."
  type        = string
  default     = ""
}

variable "instance_type" {
  description = "Instance type; must match the AMI's architecture (arm64 by default)."
  type        = string
  default     = "t4g.small"
}

variable "min_size" {
  description = "Smallest number of instances."
  type        = number
  default     = 1
}

variable "max_size" {
  description = "Largest number of instances."
  type        = number
  default     = 2
}

variable "desired_capacity" {
  description = "Instances to run; the step waits until this many are healthy behind the load balancer."
  type        = number
  default     = 1
}

variable "wait_for_capacity_timeout" {
  description = "How long to wait for healthy instances before the step fails."
  type        = string
  default     = "15m"
}

variable "ami_id" {
  description = "Application image; \"\" uses the latest Amazon Linux 2023 from ami_ssm_parameter."
  type        = string
  default     = ""
}

variable "ami_ssm_parameter" {
  description = "SSM parameter holding the default AMI id."
  type        = string
  default     = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
}

variable "user_data" {
  description = "Instance user data; \"\" runs the stand-in webhook."
  type        = string
  default     = ""
}

variable "app_port" {
  description = "Port the application listens on."
  type        = number
  default     = 8080
}

variable "webhook_path" {
  description = "Path of the inbound SMS webhook."
  type        = string
  default     = "/webhooks/sms/inbound"
}

variable "health_check_path" {
  description = "Path the load balancer checks."
  type        = string
  default     = "/healthz"
}

variable "certificate_arn" {
  description = "ACM certificate for an HTTPS listener; \"\" serves HTTP only."
  type        = string
  default     = ""
}
