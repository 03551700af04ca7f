# Follows chef/bento packer_templates (pkr-plugins.pkr.hcl, pkr-variables.pkr.hcl, pkr-sources.pkr.hcl, pkr-builder.pkr.hcl).

packer {
  required_version = ">= 1.7.0"
  required_plugins {
    qemu = {
      version = ">= 1.0.9"
      source  = "github.com/hashicorp/qemu"
    }
  }
}
