# Follows a public box repo splitting versions.pkr.hcl and plugins.pkr.hcl.

packer {
  required_version = ">= 1.8.0"
}
