# Follows hashicorp/packer hcl2template/testdata/variables/complicated/d.pkr.hcl.

variable "name_prefix" {
  default = "foo"
}

build {}
