# Follows hashicorp/packer hcl2template/testdata/unknown/block_type.pkr.hcl.

region = "us-east-1"

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
