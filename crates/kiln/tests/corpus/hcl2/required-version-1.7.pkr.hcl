# Follows chef/bento packer_templates/pkr-plugins.pkr.hcl.

packer {
  required_version = ">= 1.7.0"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
