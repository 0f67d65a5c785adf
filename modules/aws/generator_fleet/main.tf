# generator_fleet: instances that run `stack load-worker`, for load beyond
# what one machine can send. Each instance downloads the stack binary from
# var.stack_binary_s3_uri and runs `stack load-worker --group <worker_group>`
# with STACK_ZOOKEEPER set to var.zookeeper (the stack's ZooKeeper): the
# workers register there, and a generator step with "workers": {"group":
# ..., "count": N} splits its rate among them, starts them together and
# merges their histograms into one report.
#
# sms-inbound's production profile runs three; its minimal profile none (one
# machine sends the load).

locals {
  binary      = var.stack_binary_s3_uri == "" ? null : regex("^s3://([^/]+)/(.+)$", var.stack_binary_s3_uri)
  binary_arns = local.binary == null ? [] : ["arn:aws:s3:::${local.binary[0]}/${local.binary[1]}"]
}

data "aws_iam_policy_document" "binary" {
  count = length(local.binary_arns)

  statement {
    actions   = ["s3:GetObject"]
    resources = local.binary_arns
  }
}

resource "aws_iam_role_policy" "binary" {
  count = length(local.binary_arns)

  name   = "read-stack-binary"
  role   = module.asg.role_id
  policy = data.aws_iam_policy_document.binary[0].json
}

resource "aws_security_group" "generator" {
  name_prefix = "${var.name}-gen-"
  description = "Load generators: outbound only (targets, ZooKeeper, S3)"
  vpc_id      = var.vpc_id

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  lifecycle {
    create_before_destroy = true
  }

  tags = { Name = "${var.name}-generator" }
}

module "asg" {
  source = "../internal/asg"

  name_prefix        = "${var.name}-gen-"
  instance_name      = "${var.name}-generator"
  tags               = var.tags
  role_name_prefix   = "${substr(var.name, 0, 24)}-gen-"
  ami_id             = var.ami_id
  ami_ssm_parameter  = var.ami_ssm_parameter
  instance_type      = var.instance_type
  security_group_ids = [aws_security_group.generator.id]
  user_data = templatefile("${path.module}/generator.sh.tftpl", {
    binary    = var.stack_binary_s3_uri
    region    = var.region
    zookeeper = var.zookeeper
    group     = var.worker_group
    args      = join(" ", var.worker_args)
    token     = var.probe_token
  })
  subnet_ids       = var.subnet_ids
  min_size         = var.instance_count
  max_size         = var.instance_count
  desired_capacity = var.instance_count
}
