# Follows hashicorp/packer hcl2template/testdata/build/invalid_build_name_variable.pkr.hcl.

variable "build_name" {
  type    = string
  default = "nightly"
}

source "null" "x" {
  communicator = "none"
}

build {
  name    = var.build_name
  sources = ["source.null.x"]
}
