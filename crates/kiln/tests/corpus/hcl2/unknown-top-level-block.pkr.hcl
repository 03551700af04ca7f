# Follows hashicorp/packer hcl2template/testdata/unknown/block_type.pkr.hcl.

potato "mashed" {
  salt = true
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
