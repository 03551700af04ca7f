# Follows hashicorp/packer hcl2template/testdata/build/invalid_source_reference.pkr.hcl.

source "file" "base" {
  content = "base"
  target  = "base.txt"
}

build {
  source "source.file.missing" {
    target = "x.txt"
  }
}
