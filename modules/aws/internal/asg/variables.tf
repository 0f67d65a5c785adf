variable "name_prefix" {
  description = "Name prefix of the launch template and the group, e.g. \"<stack>-workers-\"."
  type        = string
}

variable "instance_name" {
  description = "Name tag of the instances."
  type        = string
}

variable "tags" {
  description = "The caller's tags, put on the instances at launch."
  type        = map(string)
  default     = {}
}

variable "role_name_prefix" {
  description = "Name prefix of an instance role (SSM access) and profile to create; null creates none."
  type        = string
  default     = null
}

variable "ami_id" {
  description = "Image; \"\" uses the one ami_ssm_parameter names."
  type        = string
  default     = ""
}

variable "ami_ssm_parameter" {
  description = "SSM parameter holding the default AMI id."
  type        = string
}

variable "instance_type" {
  description = "Instance type; must match the AMI's architecture."
  type        = string
}

variable "security_group_ids" {
  description = "Security groups of the instances."
  type        = list(string)
}

variable "user_data" {
  description = "Instance user data (plain text: encoded here)."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the group."
  type        = list(string)
}

variable "min_size" {
  description = "Smallest number of instances."
  type        = number
}

variable "max_size" {
  description = "Largest number of instances."
  type        = number
}

variable "desired_capacity" {
  description = "Instances to run."
  type        = number
}

# Each of these left null is left unset on the group, as before the modules
# shared it: the provider's default applies.

variable "target_group_arns" {
  description = "Load balancer target groups to register the instances in."
  type        = list(string)
  default     = null
}

variable "health_check_type" {
  description = "\"EC2\" or \"ELB\"."
  type        = string
  default     = null
}

variable "health_check_grace_period" {
  description = "Seconds after launch before health checks count."
  type        = number
  default     = null
}

variable "wait_for_elb_capacity" {
  description = "Instances that must be healthy behind the load balancer before the apply ends."
  type        = number
  default     = null
}

variable "wait_for_capacity_timeout" {
  description = "How long the apply waits for the instances."
  type        = string
  default     = null
}

variable "rolling_refresh" {
  description = "Replace instances in place (Rolling, half kept healthy) when the launch template changes."
  type        = bool
  default     = false
}
