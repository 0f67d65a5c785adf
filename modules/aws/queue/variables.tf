variable "visibility_timeout_seconds" {
  description = "How long a received message stays hidden from other workers."
  type        = number
  default     = 60
}

variable "message_retention_seconds" {
  description = "How long an unprocessed message is kept (default 4 days)."
  type        = number
  default     = 345600
}

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "dead_letter_retention_seconds" {
  description = "How long dead letters are kept (default 14 days, the SQS maximum)."
  type        = number
  default     = 1209600
}
