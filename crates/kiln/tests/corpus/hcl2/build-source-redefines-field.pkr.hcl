# Follows hashicorp/packer website docs templates/hcl_templates/blocks/build/source (fields cannot be overwritten).

source "file" "base" {
  content = "base"
  target  = "base.txt"
}

build {
  source "source.file.base" {
    name   = "copy"
    target = "copy.txt"
  }
}
