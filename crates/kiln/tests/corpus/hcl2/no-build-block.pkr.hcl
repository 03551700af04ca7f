# Follows hashicorp/packer command/test-fixtures/hcl/no_build.pkr.hcl.

source "null" "a" {
  communicator = "none"
}
