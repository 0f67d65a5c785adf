# The launch template and group moved into ../internal/asg: these keep
# stacks applied before the move from replacing them.

moved {
  from = aws_launch_template.this
  to   = module.asg.aws_launch_template.this
}

moved {
  from = aws_autoscaling_group.this
  to   = module.asg.aws_autoscaling_group.this
}
