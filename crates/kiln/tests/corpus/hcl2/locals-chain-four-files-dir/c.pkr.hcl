# Follows hashicorp/packer hcl2template/testdata/variables/complicated (a, b, c, d .pkr.hcl).

variable "name_prefix" {
  default = "foo"
}
