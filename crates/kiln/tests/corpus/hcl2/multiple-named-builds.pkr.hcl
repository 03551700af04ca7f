# Follows hashicorp/packer command/test-fixtures/build-variable-sharing/multiple_build_blocks.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

source "file" "b" {
  content = "b"
  target  = "b.txt"
}

build {
  name    = "first"
  sources = ["source.null.a"]
}

build {
  name    = "second"
  sources = ["source.null.a", "source.file.b"]

  provisioner "shell-local" {
    inline = ["echo ${build.name}"]
  }
}

build {
  name    = "third"
  sources = ["source.file.b"]
}
