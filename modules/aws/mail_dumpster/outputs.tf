output "mail_dumpster_domain" {
  description = "DNS name applications send mail to."
  value       = aws_route53_record.this.fqdn
}

output "nlb_dns_name" {
  description = "DNS name of the load balancer itself."
  value       = aws_lb.this.dns_name
}

output "smtp_port" {
  description = "SMTP port."
  value       = var.smtp_port
}

output "instance_count" {
  description = "SMTP sink instances."
  value       = var.instance_count
}
