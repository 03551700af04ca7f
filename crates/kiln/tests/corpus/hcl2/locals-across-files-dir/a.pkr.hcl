# Follows chef/bento packer_templates (locals in pkr-builder and pkr-sources).

locals {
  vm_name = "${local.os}-${local.version}"
}

source "file" "name" {
  content = local.vm_name
  target  = "name.txt"
}

build {
  sources = ["source.file.name"]
}
