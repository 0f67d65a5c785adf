output "webhook_url" {
  description = "URL the SMS vendors (and the load generator) POST inbound messages to."
  value       = "${local.scheme}://${aws_lb.this.dns_name}${var.webhook_path}"
}

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "target_group_arn" {
  description = "Target group of the instances."
  value       = aws_lb_target_group.this.arn
}

output "asg_name" {
  description = "Auto Scaling group name."
  value       = module.asg.asg_name
}

output "instance_count" {
  description = "Instances the group keeps running."
  value       = var.desired_capacity
}
