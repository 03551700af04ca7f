# Follows hashicorp/packer hcl2template/testdata/build/two-error-cleanup-provisioner.pkr.hcl.

source "null" "box" {
  communicator = "none"
}

build {
  sources = ["source.null.box"]

  error-cleanup-provisioner "shell-local" {
    inline = ["echo first"]
  }

  error-cleanup-provisioner "shell-local" {
    inline = ["echo second"]
  }
}
