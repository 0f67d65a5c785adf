# The launch template and group (and the instance role) moved into
# ../internal/asg: these keep stacks applied before the move from replacing them.

moved {
  from = aws_launch_template.this
  to   = module.asg.aws_launch_template.this
}

moved {
  from = aws_autoscaling_group.this
  to   = module.asg.aws_autoscaling_group.this
}

moved {
  from = aws_iam_role.instance
  to   = module.asg.aws_iam_role.instance[0]
}

moved {
  from = aws_iam_role_policy_attachment.ssm
  to   = module.asg.aws_iam_role_policy_attachment.ssm[0]
}

moved {
  from = aws_iam_instance_profile.instance
  to   = module.asg.aws_iam_instance_profile.instance[0]
}
