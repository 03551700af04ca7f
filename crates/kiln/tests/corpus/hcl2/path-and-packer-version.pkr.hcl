# Follows hashicorp/packer hcl2template/testdata/build/provisioner_packer_version_interpolation.pkr.hcl.

locals {
  root = path.root
  cwd  = path.cwd
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo ${local.root} ${local.cwd} ${packer.version}"]
  }
}
