# Follows hashicorp/packer hcl2template/types.required_plugins.go.

packer {
  required_plugins {
    qemu = {
      source = "github.com/hashicorp/qemu"
    }
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
