# Follows hashicorp/packer hcl2template/testdata/variables/duplicate_locals.

locals {
  name = "a"
  name = "b"
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]
}
