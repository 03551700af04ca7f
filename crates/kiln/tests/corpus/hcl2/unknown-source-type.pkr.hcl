# Follows hashicorp/packer hcl2template/testdata/sources/inexistent_used.pkr.hcl.

source "nonexistent" "ubuntu" {
  foo = "bar"
}

build {
  sources = ["source.nonexistent.ubuntu"]
}
