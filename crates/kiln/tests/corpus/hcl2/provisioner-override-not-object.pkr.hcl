# Follows hashicorp/packer command/test-fixtures/hcl/provisioner-override.pkr.hcl.

source "null" "one" {
  communicator = "none"
}

build {
  sources = ["source.null.one"]

  provisioner "shell-local" {
    inline   = ["echo default"]
    override = "two"
  }
}
