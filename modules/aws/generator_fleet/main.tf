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
  ami_id      = var.ami_id != "" ? var.ami_id : data.aws_ssm_parameter.ami.value
  binary      = var.stack_binary_s3_uri == "" ? null : regex("^s3://([^/]+)/(.+)$", var.stack_binary_s3_uri)
  binary_arns = local.binary == null ? [] : ["arn:aws:s3:::${local.binary[0]}/${local.binary[1]}"]
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

resource "aws_iam_role" "instance" {
  name_prefix        = "${substr(var.name, 0, 24)}-gen-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
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
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.binary[0].json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "instance" {
  name_prefix = "${substr(var.name, 0, 24)}-gen-"
  role        = aws_iam_role.instance.name
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

resource "aws_launch_template" "this" {
  name_prefix            = "${var.name}-gen-"
  image_id               = local.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = [aws_security_group.generator.id]
  user_data = base64encode(templatefile("${path.module}/generator.sh.tftpl", {
    binary    = var.stack_binary_s3_uri
    region    = var.region
    zookeeper = var.zookeeper
    group     = var.worker_group
    args      = join(" ", var.worker_args)
  }))

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance.arn
  }

  metadata_options {
    http_tokens = "required"
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.name}-generator" })
  }
}

resource "aws_autoscaling_group" "this" {
  name_prefix         = "${var.name}-gen-"
  min_size            = var.instance_count
  max_size            = var.instance_count
  desired_capacity    = var.instance_count
  vpc_zone_identifier = var.subnet_ids

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-generator"
    propagate_at_launch = true
  }
}
