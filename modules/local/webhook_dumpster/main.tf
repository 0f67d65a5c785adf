# webhook_dumpster: a local sink that accepts webhooks, the demo's far end
# (the twin of the users' mail_dumpster). It runs `stack dumpster` in the
# background on 127.0.0.1 (a free port) as an e2e probe: every arrival goes
# to a journal that load steps pull (probe_url), so each message the demo
# sends is traced to its reply. It stops on destroy.
# Only built-in terraform_data and local-exec: no provider download.
# Terraform runs with STACK_BIN set to the running stack binary.

variable "path" {
  type        = string
  default     = "/webhooks/sms"
  description = "Path of the webhook URL."
}

variable "state_dir" {
  type        = string
  default     = ""
  description = "Folder for the sink's URL, PID and log files (default: under /tmp, keyed by this working copy's path: outside the working copy, which may be refreshed between up and down, and distinct per stack and step)."
}

locals {
  dir = var.state_dir != "" ? var.state_dir : "/tmp/stack-webhook-dumpster/${terraform.workspace}-${substr(sha1(abspath(path.root)), 0, 12)}"
}

resource "terraform_data" "sink" {
  input = {
    path     = var.path
    url_file = "${local.dir}/url"
    pid_file = "${local.dir}/pid"
    log_file = "${local.dir}/log"
    journal  = "${local.dir}/journal"
  }
  # The folder is chosen once, when the sink starts: a plan from another
  # working copy (stack plan, another workstation) must not see it as changed.
  # A different path or state_dir starts a new sink instead.
  triggers_replace = [var.path, var.state_dir]
  lifecycle {
    ignore_changes = [input]
  }

  provisioner "local-exec" {
    command = "\"$${STACK_BIN:-stack}\" dumpster --background --addr 127.0.0.1:0 --path '${self.input.path}' --url-file '${self.input.url_file}' --pid-file '${self.input.pid_file}' --log-file '${self.input.log_file}' --journal '${self.input.journal}' --name sink"
  }

  provisioner "local-exec" {
    when    = destroy
    command = "\"$${STACK_BIN:-stack}\" dumpster --stop --pid-file '${self.output.pid_file}' --log-file '${self.output.log_file}' --journal '${try(self.output.journal, "")}'"
  }
}

output "webhook_url" {
  description = "URL of the sink's webhook endpoint."
  value       = trimspace(try(file(terraform_data.sink.output.url_file), ""))
}

output "probe_url" {
  description = "The sink's base URL: where load steps pull what arrived (e2e probes)."
  value       = try(regex("^https?://[^/]+", trimspace(file(terraform_data.sink.output.url_file))), "")
}

variable "stack_identity" {
  description = "Set by stack: the stack and step that own these resources."
  type        = object({ stack = string, step = string })
  default     = null
}
