# Follows hashicorp/packer hcl2template/testdata/init/invalid_short_source.pkr.hcl.

packer {
  required_plugins {
    amazon = {
      version = ">= 1.0.0"
      source  = "hashicorp/amazon"
    }
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
