# Follows hashicorp/packer hcl2template/testdata/variables/duplicate_locals.

locals {
  sensible = "one"
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]
}
