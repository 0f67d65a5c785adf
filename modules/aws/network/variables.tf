variable "az_count" {
  description = "Availability Zones to spread subnets across (2 to 6)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6
    error_message = "az_count must be between 2 and 6: load balancers and Aurora subnet groups need at least two AZs."
  }
}

variable "nat_gateway_count" {
  description = "NAT gateways (1 for minimal; one per AZ for production). Capped at az_count."
  type        = number
  default     = 1

  validation {
    condition     = var.nat_gateway_count >= 1
    error_message = "nat_gateway_count must be at least 1: private instances reach AWS APIs through it."
  }
}

variable "cidr_block" {
  description = "VPC CIDR block; split into /20 subnets (public 0-5, private 8-13)."
  type        = string
  default     = "10.40.0.0/16"
}

variable "app_port" {
  description = "Port the application instances listen on behind the load balancer."
  type        = number
  default     = 8080
}

variable "ingress_cidr_blocks" {
  description = "Who may reach the public load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}
