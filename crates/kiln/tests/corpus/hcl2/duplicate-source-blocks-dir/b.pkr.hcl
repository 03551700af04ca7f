# Follows hashicorp/packer hcl2template/testdata/sources/duplicate.pkr.hcl.

source "file" "motd" {
  content = "b"
  target  = "b.txt"
}
