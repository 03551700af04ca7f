# Follows hashicorp/packer website docs templates/hcl_templates/blocks/packer (required_version).

packer {
  required_version = "~> 1.6.0"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
