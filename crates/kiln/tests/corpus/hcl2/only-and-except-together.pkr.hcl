# Follows hashicorp/packer hcl2template/testdata/build/provisioner_onlyexcept.pkr.hcl.

source "null" "apple" {
  communicator = "none"
}

build {
  sources = ["source.null.apple"]

  provisioner "shell-local" {
    only   = ["null.apple"]
    except = ["null.pear"]
    inline = ["echo nope"]
  }
}
