# Follows hashicorp/packer hcl2template/testdata/build/two-error-cleanup-provisioner.pkr.hcl.

source "null" "box" {
  communicator = "none"
}

build {
  sources = ["source.null.box"]

  provisioner "shell-local" {
    inline = ["echo provisioning"]
  }

  error-cleanup-provisioner "shell-local" {
    inline = ["echo the build failed > failure.txt"]
  }
}
