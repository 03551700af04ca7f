# Follows hashicorp/packer hcl2template/testdata/sources/basic.pkr.hcl.

source "file" "a" {
  content = ["x", "y"]
  target  = "a.txt"
}

build {
  sources = ["source.file.a"]
}
