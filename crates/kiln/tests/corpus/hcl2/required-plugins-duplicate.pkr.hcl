# Follows hashicorp/packer hcl2template/testdata/init/duplicate_required_plugins/packer.pkr.hcl.

packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= v0"
    }
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= v4"
    }
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
