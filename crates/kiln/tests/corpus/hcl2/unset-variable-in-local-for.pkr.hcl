# Follows hashicorp/packer command/test-fixtures/hcl/recursive_local_with_unset_input/file.pkr.hcl.

variable "vms_to_build" {
}

locals {
  vms = var.vms_to_build
  by_name = {
    for vm in local.vms : vm => upper(vm)
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
