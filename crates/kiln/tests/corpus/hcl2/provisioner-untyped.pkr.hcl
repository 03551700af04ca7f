# Follows hashicorp/packer hcl2template/testdata/build/provisioner_untyped.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner {
    inline = ["echo x"]
  }
}
