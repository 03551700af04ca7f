# Follows hashicorp/packer hcl2template/testdata/variables/duplicate_variable.pkr.hcl.

variable "boolean_value" {
  default = false
}

variable "boolean_value" {
  default = true
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]
}
