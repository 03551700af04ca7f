# Follows hashicorp/packer hcl2template/testdata/sources/unnamed.pkr.hcl.

source "null" {
  communicator = "none"
}

build {
  sources = ["source.null"]
}
