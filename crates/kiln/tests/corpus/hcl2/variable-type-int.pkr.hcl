# Follows hashicorp/packer hcl2template/testdata/build/invalid_build_name_variable.pkr.hcl.

variable "name" {
  type    = int
  default = 123
}

source "null" "x" {
  communicator = "none"
}

build {
  name    = "n-${var.name}"
  sources = ["source.null.x"]
}
