# Follows hashicorp/packer command/test-fixtures/hcl/dynamic/build.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  dynamic "provisioner" {
    for_each = "not-a-collection"
    labels   = ["shell-local"]
    content {
      inline = ["echo x"]
    }
  }
}
