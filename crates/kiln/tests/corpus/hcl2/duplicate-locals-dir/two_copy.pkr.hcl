# Follows hashicorp/packer hcl2template/testdata/variables/duplicate_locals.

locals {
  sensible = "two"
}
