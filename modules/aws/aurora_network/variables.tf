variable "vpc_id" {
  description = "VPC the database lives in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets in at least two AZs."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must hold at least two subnets in different AZs (an RDS requirement)."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups whose instances may connect."
  type        = list(string)
}

variable "port" {
  description = "Database port."
  type        = number
  default     = 3306
}

variable "parameter_group_family" {
  description = "Cluster parameter group family; must match the snapshot's engine version."
  type        = string
  default     = "aurora-mysql8.0"
}

variable "parameters" {
  description = "Cluster parameters, name to value."
  type        = map(string)
  default = {
    character_set_server = "utf8mb4"
    collation_server     = "utf8mb4_0900_ai_ci"
  }
}
