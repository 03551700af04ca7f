# Follows hashicorp/packer website docs templates/hcl_templates/blocks/packer (version constraints).

packer {
  required_plugins {
    docker = {
      version = ">= 1.1.0-dev"
      source  = "github.com/hashicorp/docker"
    }
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
