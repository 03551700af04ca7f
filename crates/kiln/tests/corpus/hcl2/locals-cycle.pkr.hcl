# Follows hashicorp/packer command/test-fixtures/hcl/recursive_local_with_input/locals.pkr.hcl.

locals {
  a = "${local.b}-a"
  b = "${local.a}-b"
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]
}
