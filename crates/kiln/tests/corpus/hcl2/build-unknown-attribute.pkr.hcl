# Follows hashicorp/packer hcl2template/testdata/build/basic.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  parallel = true
  sources  = ["source.null.a"]
}
