# Follows hashicorp/packer hcl2template/testdata/build/provisioner_inexistent.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "inexistent" {
    foo = "bar"
  }
}
