# Follows hashicorp/packer hcl2template/testdata/variables/empty.pkr.hcl.

variable "region" {
  type    = string
  default = "us-east-1"
}
