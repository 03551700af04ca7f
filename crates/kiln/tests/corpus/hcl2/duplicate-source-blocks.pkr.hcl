# Follows hashicorp/packer hcl2template/testdata/sources/duplicate.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
