# Follows chef/bento packer_templates (pkr-variables, pkr-sources, pkr-builder).

packer {
  required_version = ">= 1.7.0"
  required_plugins {
    qemu = {
      version = ">= 1.1.0"
      source  = "github.com/hashicorp/qemu"
    }
  }
}
