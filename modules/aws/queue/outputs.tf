output "queue_url" {
  description = "URL of the inbound queue."
  value       = aws_sqs_queue.inbound.url
}

output "queue_arn" {
  description = "ARN of the inbound queue, for IAM policies."
  value       = aws_sqs_queue.inbound.arn
}

output "queue_name" {
  description = "Name of the inbound queue."
  value       = aws_sqs_queue.inbound.name
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.url
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.arn
}
