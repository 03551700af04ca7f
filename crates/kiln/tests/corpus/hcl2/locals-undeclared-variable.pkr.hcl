# Follows hashicorp/packer command/test-fixtures/hcl/recursive_local_with_input/locals.pkr.hcl.

locals {
  name = "${var.os_name}-${var.os_version}"
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]
}
