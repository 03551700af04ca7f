# Follows hashicorp/packer hcl2template/testdata/init/invalid_inexplicit_source.pkr.hcl.

packer {
  required_plugins {
    amazon = ">= 1.0.0"
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
