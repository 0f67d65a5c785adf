# A module whose variables come from a symlinked file and whose work is done
# by a local module outside its folder.
module "child" {
  source = "../internal/child"

  value = "${var.prefix}-${var.value}"
}

output "value" {
  value = module.child.value
}
