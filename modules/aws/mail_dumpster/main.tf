# mail_dumpster: an SMTP sink that accepts mail and discards it, so the stack
# can exercise its outbound-mail code without delivering anything. A Network
# Load Balancer on TCP var.smtp_port, an Auto Scaling group of small instances
# running the sink (smtp_sink.sh.tftpl) that waits for healthy targets, and a
# DNS record (in var.zone_id, or a private hosted zone created here) that
# points at the load balancer. The step's zookeeper handler publishes
# mail_dumpster_domain so the application finds it.
#
# minimal: one tiny instance. production: several, one per AZ.
#
# Given stack_binary_s3_uri, the sink is `stack dumpster --journal --smtp`
# instead: an e2e probe that records each mail and serves the records to load
# steps on probe_port (behind the same load balancer, bearer token
# probe_token). A probe keeps its journal on its instance, so probe mode runs
# exactly one instance: pulls through the load balancer always reach it.

locals {
  probe       = var.stack_binary_s3_uri != ""
  binary      = local.probe ? regex("^s3://([^/]+)/(.+)$", var.stack_binary_s3_uri) : null
  lb_name     = trimsuffix(substr("${var.name}-mail", 0, 32), "-")
  create_zone = var.zone_id == ""
  zone_id     = local.create_zone ? aws_route53_zone.private[0].zone_id : var.zone_id
  zone_name   = local.create_zone ? aws_route53_zone.private[0].name : data.aws_route53_zone.given[0].name
}

data "aws_route53_zone" "given" {
  count = local.create_zone ? 0 : 1

  zone_id = var.zone_id
}

resource "aws_route53_zone" "private" {
  count = local.create_zone ? 1 : 0

  name          = "${var.name}.${var.zone_suffix}"
  comment       = "Private zone of synthetic stack ${var.name}"
  force_destroy = true

  vpc {
    vpc_id = var.vpc_id
  }
}

resource "aws_security_group" "sink" {
  name_prefix = "${var.name}-mail-"
  description = "SMTP sink: SMTP and health checks from inside the VPC"
  vpc_id      = var.vpc_id

  # A Network Load Balancer keeps the client's address, so admit the VPC.
  ingress {
    description = "SMTP"
    from_port   = var.smtp_port
    to_port     = var.smtp_port
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr_block]
  }

  dynamic "ingress" {
    for_each = local.probe ? [var.probe_port] : []
    content {
      description = "e2e probe: load steps pull what arrived"
      from_port   = ingress.value
      to_port     = ingress.value
      protocol    = "tcp"
      cidr_blocks = [var.vpc_cidr_block]
    }
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  lifecycle {
    create_before_destroy = true
    precondition {
      condition     = !local.probe || var.instance_count == 1
      error_message = "A probe keeps its journal on its instance: with stack_binary_s3_uri set, instance_count must be 1."
    }
  }

  tags = { Name = "${var.name}-mail" }
}

# The probe's bearer token: random once, kept in the state, a sensitive output.
resource "terraform_data" "probe_token" {
  count = local.probe ? 1 : 0
  input = uuid()
  lifecycle {
    ignore_changes = [input]
  }
}

resource "aws_lb_target_group" "probe" {
  count                = local.probe ? 1 : 0
  name                 = trimsuffix(substr("${var.name}-probe", 0, 32), "-")
  port                 = var.probe_port
  protocol             = "TCP"
  vpc_id               = var.vpc_id
  deregistration_delay = 10
}

resource "aws_lb_listener" "probe" {
  count             = local.probe ? 1 : 0
  load_balancer_arn = aws_lb.this.arn
  port              = var.probe_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.probe[0].arn
  }
}

data "aws_iam_policy_document" "binary" {
  count = local.probe ? 1 : 0

  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${local.binary[0]}/${local.binary[1]}"]
  }
}

resource "aws_iam_role_policy" "binary" {
  count = local.probe ? 1 : 0

  name   = "read-stack-binary"
  role   = module.asg.role_id
  policy = data.aws_iam_policy_document.binary[0].json
}

resource "aws_lb" "this" {
  name               = local.lb_name
  load_balancer_type = "network"
  internal           = true
  subnets            = var.subnet_ids
}

resource "aws_lb_target_group" "this" {
  name                 = local.lb_name
  port                 = var.smtp_port
  protocol             = "TCP"
  vpc_id               = var.vpc_id
  deregistration_delay = 10

  health_check {
    protocol            = "TCP"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }
}

resource "aws_lb_listener" "smtp" {
  load_balancer_arn = aws_lb.this.arn
  port              = var.smtp_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }
}

module "asg" {
  source = "../internal/asg"

  name_prefix        = "${var.name}-mail-"
  instance_name      = "${var.name}-mail-dumpster"
  tags               = var.tags
  ami_id             = var.ami_id
  ami_ssm_parameter  = var.ami_ssm_parameter
  instance_type      = var.instance_type
  security_group_ids = [aws_security_group.sink.id]
  role_name_prefix   = local.probe ? "${var.name}-mail-" : null
  user_data = local.probe ? templatefile("${path.module}/probe_sink.sh.tftpl", {
    port  = var.smtp_port, probe_port = var.probe_port, region = var.region, binary = var.stack_binary_s3_uri,
    token = terraform_data.probe_token[0].output
  }) : templatefile("${path.module}/smtp_sink.sh.tftpl", { port = var.smtp_port })
  subnet_ids                = var.subnet_ids
  min_size                  = var.instance_count
  max_size                  = var.instance_count
  desired_capacity          = var.instance_count
  target_group_arns         = concat([aws_lb_target_group.this.arn], aws_lb_target_group.probe[*].arn)
  health_check_type         = "ELB"
  health_check_grace_period = 120
  wait_for_elb_capacity     = var.instance_count
  wait_for_capacity_timeout = "10m"
}

resource "aws_route53_record" "this" {
  zone_id = local.zone_id
  name    = "${var.record_name}.${local.zone_name}"
  type    = "A"

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}
