# webhook_service: the inbound webhook tier the SMS vendors (and the load
# generator) call. An internet-facing Application Load Balancer, a target
# group with an HTTP health check, a launch template and an Auto Scaling group
# that waits until var.desired_capacity instances pass the load balancer's
# health check (wait_for_elb_capacity) before the step counts as applied, so
# dependents never see a half-started tier. Instances may send to the inbound
# SQS queue.
#
# The default user data runs a stand-in webhook (webhook.py.tftpl) that accepts
# POSTs on var.webhook_path and enqueues them; point var.ami_id and
# var.user_data at the real application image to test the real code.
#
# minimal: one small instance. production: several larger ones.

locals {
  # ALB and target group names: at most 32 characters, no trailing hyphen.
  lb_name = trimsuffix(substr("${var.name}-webhook", 0, 32), "-")
  ami_id  = var.ami_id != "" ? var.ami_id : data.aws_ssm_parameter.ami.value
  scheme  = var.certificate_arn != "" ? "https" : "http"
  user_data = var.user_data != "" ? var.user_data : templatefile("${path.module}/webhook.sh.tftpl", {
    region         = var.region
    queue_url      = var.queue_url
    port           = var.app_port
    webhook_path   = var.webhook_path
    health_path    = var.health_check_path
    redis_endpoint = var.redis_endpoint
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

data "aws_iam_policy_document" "send" {
  statement {
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
    resources = [var.queue_arn]
  }
}

resource "aws_iam_role" "instance" {
  name_prefix        = "${substr(var.name, 0, 24)}-wh-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy" "send" {
  name   = "send-inbound"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.send.json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "instance" {
  name_prefix = "${substr(var.name, 0, 24)}-wh-"
  role        = aws_iam_role.instance.name
}

resource "aws_lb" "this" {
  name               = local.lb_name
  load_balancer_type = "application"
  internal           = false
  security_groups    = [var.alb_security_group_id]
  subnets            = var.public_subnet_ids
  idle_timeout       = 30
}

resource "aws_lb_target_group" "this" {
  name                 = local.lb_name
  port                 = var.app_port
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = var.health_check_path
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }
}

resource "aws_lb_listener" "https" {
  count = var.certificate_arn != "" ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }
}

resource "aws_launch_template" "this" {
  name_prefix            = "${var.name}-webhook-"
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
    tags          = merge(var.tags, { Name = "${var.name}-webhook" })
  }
}

resource "aws_autoscaling_group" "this" {
  name_prefix               = "${var.name}-webhook-"
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.desired_capacity
  vpc_zone_identifier       = var.private_subnet_ids
  target_group_arns         = [aws_lb_target_group.this.arn]
  health_check_type         = "ELB"
  health_check_grace_period = 180
  wait_for_elb_capacity     = var.desired_capacity
  wait_for_capacity_timeout = var.wait_for_capacity_timeout

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  # A changed launch template replaces instances in place, keeping half healthy.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-webhook"
    propagate_at_launch = true
  }
}
