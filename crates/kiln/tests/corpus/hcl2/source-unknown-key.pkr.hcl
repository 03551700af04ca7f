# Follows hashicorp/packer hcl2template/testdata/sources/basic.pkr.hcl.

source "file" "a" {
  content = "x"
  target  = "a.txt"
  mode    = "0644"
}

build {
  sources = ["source.file.a"]
}
