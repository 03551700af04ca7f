# Follows hashicorp/packer hcl2template/testdata/variables/complicated (a, b, c, d .pkr.hcl).

locals {
  name_prefix = "${var.name_prefix}"
  foo         = "${local.name_prefix}"
  bar         = local.name_prefix
}
