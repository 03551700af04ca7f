# Follows hashicorp/packer command/test-fixtures/hcl/test_except_manifest.pkr.hcl.

source "null" "one" {
  communicator = "none"
}

source "null" "two" {
  communicator = "none"
}

build {
  name    = "release"
  sources = ["null.one", "null.two"]

  provisioner "shell-local" {
    name   = "greet"
    inline = ["echo hi from ${source.name}"]
  }

  post-processor "manifest" {
    name   = "record"
    except = ["null.two"]
  }
}
