# Follows hashicorp/packer hcl2template/testdata/sources/duplicate.pkr.hcl.

source "null" "vm" {
  communicator = "none"
}

source "file" "vm" {
  content = "x"
  target  = "x.txt"
}

build {
  sources = ["source.null.vm", "source.file.vm"]
}
