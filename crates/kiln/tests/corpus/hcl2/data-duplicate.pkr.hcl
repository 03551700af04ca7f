# Follows hashicorp/packer hcl2template/testdata/datasources/duplicate.pkr.hcl.

data "null" "seed" {
  input = "one"
}

data "null" "seed" {
  input = "two"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
