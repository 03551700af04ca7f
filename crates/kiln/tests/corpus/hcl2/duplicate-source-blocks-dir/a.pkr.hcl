# Follows hashicorp/packer hcl2template/testdata/sources/duplicate.pkr.hcl.

source "file" "motd" {
  content = "a"
  target  = "a.txt"
}

build {
  sources = ["source.file.motd"]
}
