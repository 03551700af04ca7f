# Follows hashicorp/packer hcl2template/testdata/sources/nonexistent_used.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a", "source.null.missing"]
}
