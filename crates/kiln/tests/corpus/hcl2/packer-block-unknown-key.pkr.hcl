# Follows hashicorp/packer website docs templates/hcl_templates/blocks/packer (required_version).

packer {
  version = "1.7.0"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
