output "asg_name" {
  description = "Auto Scaling group name."
  value       = aws_autoscaling_group.this.name
}

output "role_id" {
  description = "Instance role id (null without role_name_prefix), for the caller's policies."
  value       = one(aws_iam_role.instance[*].id)
}

output "role_arn" {
  description = "Instance role ARN (null without role_name_prefix)."
  value       = one(aws_iam_role.instance[*].arn)
}
