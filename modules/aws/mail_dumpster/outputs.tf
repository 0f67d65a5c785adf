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

output "probe_url" {
  description = "Where load steps pull what the sink received (e2e probes); \"\" when it is not a probe."
  value       = local.probe ? "http://${aws_route53_record.this.fqdn}:${var.probe_port}" : ""
}

output "probe_token" {
  description = "Bearer token of the probe's pull endpoint."
  value       = local.probe ? terraform_data.probe_token[0].output : ""
  sensitive   = true
}
