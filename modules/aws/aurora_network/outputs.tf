output "db_subnet_group" {
  description = "DB subnet group name, for the aurora handler."
  value       = aws_db_subnet_group.this.name
}

output "db_security_group_id" {
  description = "Security group id for the restored cluster."
  value       = aws_security_group.db.id
}

output "cluster_parameter_group" {
  description = "Cluster parameter group name."
  value       = aws_rds_cluster_parameter_group.this.name
}

output "port" {
  description = "Database port."
  value       = var.port
}
