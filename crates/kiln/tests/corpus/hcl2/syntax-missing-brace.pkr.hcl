# Follows hashicorp/packer command/test-fixtures/fmt_errs/malformed.pkr.hcl.

source "null" "a" {
  communicator = "none"

build {
  sources = ["source.null.a"]
}
