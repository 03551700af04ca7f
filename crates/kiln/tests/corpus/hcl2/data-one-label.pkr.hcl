# Follows hashicorp/packer hcl2template/testdata/datasources/unnamed.pkr.hcl.

data "null" {
  input = "x"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
