# Follows hashicorp/packer command/test-fixtures/hcl/validation/wrong_pause_before.pkr.hcl.

source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]

  provisioner "shell-local" {
    pause_before = "10"
    inline       = ["echo x"]
  }
}
