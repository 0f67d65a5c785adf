# redis: ElastiCache for Redis in the stack's private subnets.
#
# minimal (cluster_mode = false): one small cache node (aws_elasticache_cluster),
# up in minutes, cheap to leave running.
# production (cluster_mode = true): a cluster-mode replication group with
# var.num_shards shards of 1 + var.replicas_per_shard nodes each, automatic
# failover and Multi-AZ, sized like the real platform (10 x 2 = 20 nodes).
# Either shape can start from an RDB snapshot (var.snapshot_name), which is far
# quicker than seeding data after the fact.

locals {
  # ElastiCache ids: at most 40 characters, no trailing hyphen.
  id                   = trimsuffix(substr("${var.name}-redis", 0, 40), "-")
  major_version        = split(".", var.engine_version)[0]
  parameter_group_name = var.cluster_mode ? "default.redis${local.major_version}.cluster.on" : "default.redis${local.major_version}"
  snapshot_name        = var.snapshot_name == "" ? null : var.snapshot_name
}

resource "aws_elasticache_subnet_group" "this" {
  name       = local.id
  subnet_ids = var.subnet_ids
}

resource "aws_security_group" "redis" {
  name_prefix = "${var.name}-redis-"
  description = "Redis: reachable from the application instances only"
  vpc_id      = var.vpc_id

  ingress {
    description     = "Redis from the application instances"
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

  tags = { Name = "${var.name}-redis" }
}

resource "aws_elasticache_cluster" "single" {
  count = var.cluster_mode ? 0 : 1

  cluster_id           = local.id
  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = var.node_type
  num_cache_nodes      = 1
  port                 = var.port
  parameter_group_name = local.parameter_group_name
  subnet_group_name    = aws_elasticache_subnet_group.this.name
  security_group_ids   = [aws_security_group.redis.id]
  snapshot_name        = local.snapshot_name
  apply_immediately    = true
}

resource "aws_elasticache_replication_group" "cluster" {
  count = var.cluster_mode ? 1 : 0

  replication_group_id       = local.id
  description                = "Redis cluster of synthetic stack ${var.name}"
  engine                     = "redis"
  engine_version             = var.engine_version
  node_type                  = var.node_type
  port                       = var.port
  parameter_group_name       = local.parameter_group_name
  num_node_groups            = var.num_shards
  replicas_per_node_group    = var.replicas_per_shard
  automatic_failover_enabled = true
  multi_az_enabled           = var.replicas_per_shard > 0
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.redis.id]
  snapshot_name              = local.snapshot_name
  apply_immediately          = true
}
