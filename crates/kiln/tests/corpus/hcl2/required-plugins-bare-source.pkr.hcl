# Follows hashicorp/packer hcl2template/testdata/init/invalid_inexplicit_source_2.pkr.hcl.

packer {
  required_plugins {
    amazon = {
      version = ">= 1.0.0"
      source  = "amazon"
    }
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
