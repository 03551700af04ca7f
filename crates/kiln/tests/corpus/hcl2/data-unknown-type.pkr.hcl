# Follows hashicorp/packer hcl2template/testdata/datasources/inexistent.pkr.hcl.

data "inexistent" "foo" {
  foo = "bar"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
