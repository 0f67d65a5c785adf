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

data "aws_iam_policy_document" "send" {
  statement {
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
    resources = [var.queue_arn]
  }
}

resource "aws_iam_role_policy" "send" {
  name   = "send-inbound"
  role   = module.asg.role_id
  policy = data.aws_iam_policy_document.send.json
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

module "asg" {
  source = "../internal/asg"

  name_prefix               = "${var.name}-webhook-"
  instance_name             = "${var.name}-webhook"
  tags                      = var.tags
  role_name_prefix          = "${substr(var.name, 0, 24)}-wh-"
  ami_id                    = var.ami_id
  ami_ssm_parameter         = var.ami_ssm_parameter
  instance_type             = var.instance_type
  security_group_ids        = [var.app_security_group_id]
  user_data                 = local.user_data
  subnet_ids                = var.private_subnet_ids
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.desired_capacity
  target_group_arns         = [aws_lb_target_group.this.arn]
  health_check_type         = "ELB"
  health_check_grace_period = 180
  wait_for_elb_capacity     = var.desired_capacity
  wait_for_capacity_timeout = var.wait_for_capacity_timeout
  rolling_refresh           = true
}
