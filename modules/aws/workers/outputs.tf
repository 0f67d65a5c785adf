output "asg_name" {
  description = "Auto Scaling group of the workers."
  value       = module.asg.asg_name
}

output "instance_role_arn" {
  description = "IAM role of the workers, to grant them more access."
  value       = module.asg.role_arn
}

output "instance_count" {
  description = "Workers the group keeps running."
  value       = var.instance_count
}
