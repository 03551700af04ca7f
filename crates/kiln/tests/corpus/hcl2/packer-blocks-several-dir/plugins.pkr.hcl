# Follows a public box repo splitting versions.pkr.hcl and plugins.pkr.hcl.

packer {
  required_plugins {
    docker = {
      version = ">= 1.0.8"
      source  = "github.com/hashicorp/docker"
    }
  }
}
