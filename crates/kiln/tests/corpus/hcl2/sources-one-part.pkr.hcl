# Follows hashicorp/packer hcl2template/testdata/build/invalid_source_reference.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["a"]
}
