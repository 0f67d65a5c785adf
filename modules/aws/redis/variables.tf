variable "vpc_id" {
  description = "VPC to place the cache in."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the cache nodes."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups whose instances may connect."
  type        = list(string)
}

variable "cluster_mode" {
  description = "false: one cache node (minimal). true: a sharded replication group (production)."
  type        = bool
  default     = false
}

variable "node_type" {
  description = "Cache node type, e.g. cache.t4g.micro (minimal) or cache.r7g.large (production)."
  type        = string
  default     = "cache.t4g.micro"
}

variable "num_shards" {
  description = "Shards (node groups) when cluster_mode is true."
  type        = number
  default     = 1

  validation {
    condition     = var.num_shards >= 1 && var.num_shards <= 500
    error_message = "num_shards must be between 1 and 500."
  }
}

variable "replicas_per_shard" {
  description = "Replicas in each shard when cluster_mode is true (0 to 5)."
  type        = number
  default     = 1

  validation {
    condition     = var.replicas_per_shard >= 0 && var.replicas_per_shard <= 5
    error_message = "replicas_per_shard must be between 0 and 5."
  }
}

variable "engine_version" {
  description = "Redis engine version."
  type        = string
  default     = "7.1"
}

variable "port" {
  description = "Redis port."
  type        = number
  default     = 6379
}

variable "snapshot_name" {
  description = "ElastiCache snapshot to restore from (\"\" starts empty)."
  type        = string
  default     = ""
}
