# aurora_network: what the `aurora` completion handler needs to restore a
# seeded snapshot into this stack: a DB subnet group over the private subnets,
# a security group that admits the application instances, and a cluster
# parameter group. The cluster itself is created by the handler, not by
# Terraform: a snapshot restore takes 30-45 minutes and belongs to the handler's
# resumable record, not to a Terraform apply.

locals {
  prefix = lower("${var.name}-aurora")
}

resource "aws_db_subnet_group" "this" {
  name        = local.prefix
  description = "Aurora subnets of synthetic stack ${var.name}"
  subnet_ids  = var.subnet_ids
}

resource "aws_security_group" "db" {
  name_prefix = "${local.prefix}-"
  description = "Aurora: reachable from the application instances only"
  vpc_id      = var.vpc_id

  ingress {
    description     = "MySQL from the application instances"
    from_port       = var.port
    to_port         = var.port
    protocol        = "tcp"
    security_groups = var.allowed_security_group_ids
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  lifecycle {
    create_before_destroy = true
  }

  tags = { Name = local.prefix }
}

resource "aws_rds_cluster_parameter_group" "this" {
  name        = local.prefix
  family      = var.parameter_group_family
  description = "Aurora cluster parameters of synthetic stack ${var.name}"

  dynamic "parameter" {
    for_each = var.parameters
    content {
      name         = parameter.key
      value        = parameter.value
      apply_method = "pending-reboot"
    }
  }
}
