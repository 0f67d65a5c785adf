# asg: the launch template and Auto Scaling group that generator_fleet,
# mail_dumpster, webhook_service and workers run their instances in, with
# the instance role (SSM access) and profile when role_name_prefix is set.
# Not a step of its own: those modules call it with `source = "../internal/asg"`.
# It uses their aws provider (region and default tags); the caller keeps what
# differs: security groups, load balancers, policies on the role.

locals {
  ami_id = var.ami_id != "" ? var.ami_id : data.aws_ssm_parameter.ami.value
  role   = var.role_name_prefix == null ? 0 : 1
}

data "aws_ssm_parameter" "ami" {
  name = var.ami_ssm_parameter
}

data "aws_iam_policy_document" "assume" {
  count = local.role

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  count = local.role

  name_prefix        = var.role_name_prefix
  assume_role_policy = data.aws_iam_policy_document.assume[0].json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  count = local.role

  role       = aws_iam_role.instance[0].name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "instance" {
  count = local.role

  name_prefix = var.role_name_prefix
  role        = aws_iam_role.instance[0].name
}

resource "aws_launch_template" "this" {
  name_prefix            = var.name_prefix
  image_id               = local.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = var.security_group_ids
  user_data              = base64encode(var.user_data)

  dynamic "iam_instance_profile" {
    for_each = aws_iam_instance_profile.instance
    content {
      arn = iam_instance_profile.value.arn
    }
  }

  metadata_options {
    http_tokens = "required"
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = var.instance_name })
  }
}

resource "aws_autoscaling_group" "this" {
  name_prefix               = var.name_prefix
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.desired_capacity
  vpc_zone_identifier       = var.subnet_ids
  target_group_arns         = var.target_group_arns
  health_check_type         = var.health_check_type
  health_check_grace_period = var.health_check_grace_period
  wait_for_elb_capacity     = var.wait_for_elb_capacity
  wait_for_capacity_timeout = var.wait_for_capacity_timeout

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  # A changed launch template replaces instances in place, keeping half healthy.
  dynamic "instance_refresh" {
    for_each = var.rolling_refresh ? [1] : []
    content {
      strategy = "Rolling"
      preferences {
        min_healthy_percentage = 50
      }
    }
  }

  tag {
    key                 = "Name"
    value               = var.instance_name
    propagate_at_launch = true
  }
}
