# Follows hashicorp/packer command/test-fixtures/fmt_errs/malformed.pkr.hcl.

source "file" "a" {
  content = "hello ${var.name"
  target  = "a.txt"
}

build {
  sources = ["source.file.a"]
}
