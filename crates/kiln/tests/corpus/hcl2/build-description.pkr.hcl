# Follows hashicorp/packer hcl2template/testdata/hcp_par/build-description.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  name        = "base-image"
  description = <<EOT
The base image every other image starts from.
It has nothing in it yet.
EOT
  sources     = ["source.null.a"]
}
