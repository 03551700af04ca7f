# Follows hashicorp/packer hcl2template/testdata/build/provisioner_onlyexcept.pkr.hcl.

source "null" "apple" {
  communicator = "none"
}

build {
  sources = ["source.null.apple"]

  provisioner "shell-local" {
    only   = ["virtualbox-iso.vm"]
    inline = ["echo never runs"]
  }

  post-processor "manifest" {
    except = ["vmware-iso.vm"]
  }
}
