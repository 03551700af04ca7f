# Follows hashicorp/packer hcl2template/types.required_plugins.go.

packer {
  required_plugins {
    qemu = {
      version = "newest"
      source  = "github.com/hashicorp/qemu"
    }
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
