output "endpoint" {
  description = "Host clients connect to: the node address (minimal) or the cluster configuration endpoint (production)."
  value       = var.cluster_mode ? one(aws_elasticache_replication_group.cluster[*].configuration_endpoint_address) : one(aws_elasticache_cluster.single[*].cache_nodes[0].address)
}

output "port" {
  description = "Redis port."
  value       = var.port
}

output "cluster_mode" {
  description = "Whether clients must speak the Redis cluster protocol."
  value       = var.cluster_mode
}

output "node_count" {
  description = "Cache nodes running."
  value       = var.cluster_mode ? var.num_shards * (1 + var.replicas_per_shard) : 1
}

output "security_group_id" {
  description = "Security group of the cache nodes."
  value       = aws_security_group.redis.id
}
