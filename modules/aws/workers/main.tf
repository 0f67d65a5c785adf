# workers: the Auto Scaling group of processing workers that drain the inbound
# queue, classify each message and act on it (Redis, Aurora, and outbound mail
# through the SMTP host the mail_dumpster step publishes to ZooKeeper).
# Instances may receive and delete messages on the inbound queue. The default
# user data runs a stand-in worker (worker.sh.tftpl) that only drains the
# queue; point var.ami_id and var.user_data at the real worker image to
# exercise the real pipeline.
#
# minimal: one small instance. production: a fleet sized for the holiday peak.

locals {
  ami_id = var.ami_id != "" ? var.ami_id : data.aws_ssm_parameter.ami.value
  user_data = var.user_data != "" ? var.user_data : templatefile("${path.module}/worker.sh.tftpl", {
    region         = var.region
    queue_url      = var.queue_url
    threads        = var.threads_per_instance
    redis_endpoint = var.redis_endpoint
    db_host        = var.db_host
  })
}

data "aws_ssm_parameter" "ami" {
  name = var.ami_ssm_parameter
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "consume" {
  statement {
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
    ]
    resources = [var.queue_arn]
  }
}

resource "aws_iam_role" "instance" {
  name_prefix        = "${substr(var.name, 0, 24)}-wk-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "consume" {
  name   = "consume-inbound"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.consume.json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "instance" {
  name_prefix = "${substr(var.name, 0, 24)}-wk-"
  role        = aws_iam_role.instance.name
}

resource "aws_launch_template" "this" {
  name_prefix            = "${var.name}-workers-"
  image_id               = local.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = [var.app_security_group_id]
  user_data              = base64encode(local.user_data)

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance.arn
  }

  metadata_options {
    http_tokens = "required"
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-worker" })
  }
}

resource "aws_autoscaling_group" "this" {
  name_prefix               = "${var.name}-workers-"
  min_size                  = var.instance_count
  max_size                  = var.max_size > var.instance_count ? var.max_size : var.instance_count
  desired_capacity          = var.instance_count
  vpc_zone_identifier       = var.private_subnet_ids
  health_check_type         = "EC2"
  health_check_grace_period = 120
  wait_for_capacity_timeout = var.wait_for_capacity_timeout

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-worker"
    propagate_at_launch = true
  }
}
