# Shared through a symlink, like modules/aws/_shared/stack.tf.
variable "value" {
  type = string
}

variable "prefix" {
  type    = string
  default = "p"
}
