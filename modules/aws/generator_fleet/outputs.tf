output "asg_name" {
  description = "Auto Scaling group of the generators."
  value       = module.asg.asg_name
}

output "instance_count" {
  description = "Generator instances running."
  value       = var.instance_count
}

output "security_group_id" {
  description = "Security group of the generators, to admit them elsewhere."
  value       = aws_security_group.generator.id
}

output "worker_group" {
  description = "Group the workers joined: what a generator step's workers.group names."
  value       = var.worker_group
}
