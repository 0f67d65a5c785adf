output "asg_name" {
  description = "Auto Scaling group of the workers."
  value       = aws_autoscaling_group.this.name
}

output "instance_role_arn" {
  description = "IAM role of the workers, to grant them more access."
  value       = aws_iam_role.instance.arn
}

output "instance_count" {
  description = "Workers the group keeps running."
  value       = var.instance_count
}
