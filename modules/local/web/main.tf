# web: the demo's stand-in for the inbound webhook tier (load balancer + instances).
# Given outbound_url, it also runs a small real pipeline on 127.0.0.1 (`stack
# dumpster --pipeline`): it accepts the inbound-SMS webhook, queues it, and
# after a per-type processing time posts the auto-reply to outbound_url;
# custom keywords go through one slow worker, so under load their replies
# queue up (the spike the demo's e2e chart shows).

variable "db_endpoint" {
  type = string
}

variable "cache_endpoint" {
  type = string
}

variable "queue_url" {
  type = string
}

variable "outbound_url" {
  type        = string
  default     = ""
  description = "Where the pipeline posts its replies (the sink); empty: no pipeline, a placeholder URL."
}

variable "state_dir" {
  type        = string
  default     = ""
  description = "Folder for the pipeline's URL, PID and log files (default: under /tmp, keyed by this working copy's path)."
}

locals {
  dir = var.state_dir != "" ? var.state_dir : "/tmp/stack-demo-pipeline/${terraform.workspace}-${substr(sha1(abspath(path.root)), 0, 12)}"
}

resource "terraform_data" "pipeline" {
  count = var.outbound_url != "" ? 1 : 0
  input = {
    outbound = var.outbound_url
    url_file = "${local.dir}/url"
    pid_file = "${local.dir}/pid"
    log_file = "${local.dir}/log"
  }
  triggers_replace = [var.outbound_url, var.state_dir]
  lifecycle {
    ignore_changes = [input]
  }

  provisioner "local-exec" {
    command = "\"$${STACK_BIN:-stack}\" dumpster --background --addr 127.0.0.1:0 --path /webhooks/sms --pipeline '${self.input.outbound}' --url-file '${self.input.url_file}' --pid-file '${self.input.pid_file}' --log-file '${self.input.log_file}'"
  }

  provisioner "local-exec" {
    when    = destroy
    command = "\"$${STACK_BIN:-stack}\" dumpster --stop --pid-file '${self.output.pid_file}' --log-file '${self.output.log_file}'"
  }
}

variable "instances" {
  type    = number
  default = 1
}

resource "terraform_data" "lb" {
  input = {
    url    = "http://web.local/webhooks/sms"
    config = "${var.db_endpoint}|${var.cache_endpoint}|${var.queue_url}"
  }
}

resource "terraform_data" "instance" {
  count = var.instances
  input = "web-${count.index}"
}

output "webhook_url" {
  value = var.outbound_url != "" ? trimspace(try(file(terraform_data.pipeline[0].output.url_file), "")) : terraform_data.lb.output.url
}

output "instance_count" {
  value = var.instances
}

variable "stack_identity" {
  description = "Set by stack: the stack and step that own these resources."
  type        = object({ stack = string, step = string })
  default     = null
}
