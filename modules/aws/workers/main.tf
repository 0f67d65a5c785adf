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
  user_data = var.user_data != "" ? var.user_data : templatefile("${path.module}/worker.sh.tftpl", {
    region         = var.region
    queue_url      = var.queue_url
    threads        = var.threads_per_instance
    redis_endpoint = var.redis_endpoint
    db_host        = var.db_host
  })
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

resource "aws_iam_role_policy" "consume" {
  name   = "consume-inbound"
  role   = module.asg.role_id
  policy = data.aws_iam_policy_document.consume.json
}

module "asg" {
  source = "../internal/asg"

  name_prefix               = "${var.name}-workers-"
  instance_name             = "${var.name}-worker"
  tags                      = var.tags
  role_name_prefix          = "${substr(var.name, 0, 24)}-wk-"
  ami_id                    = var.ami_id
  ami_ssm_parameter         = var.ami_ssm_parameter
  instance_type             = var.instance_type
  security_group_ids        = [var.app_security_group_id]
  user_data                 = local.user_data
  subnet_ids                = var.private_subnet_ids
  min_size                  = var.instance_count
  max_size                  = var.max_size > var.instance_count ? var.max_size : var.instance_count
  desired_capacity          = var.instance_count
  health_check_type         = "EC2"
  health_check_grace_period = 120
  wait_for_capacity_timeout = var.wait_for_capacity_timeout
  rolling_refresh           = true
}
