# Follows hashicorp/packer command/test-fixtures/hcl/provisioner-override.pkr.hcl.

source "null" "one" {
  communicator = "none"
}

source "null" "two" {
  communicator = "none"
}

build {
  sources = ["source.null.one", "source.null.two"]

  provisioner "shell-local" {
    inline = ["echo default"]
    override = {
      two = {
        inline = ["echo overridden for two"]
      }
    }
  }
}
