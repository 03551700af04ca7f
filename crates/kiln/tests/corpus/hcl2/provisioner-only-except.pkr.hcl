# Follows hashicorp/packer hcl2template/testdata/build/provisioner_onlyexcept.pkr.hcl.

source "null" "apple" {
  communicator = "none"
}

source "null" "pear" {
  communicator = "none"
}

build {
  sources = ["source.null.apple", "source.null.pear"]

  provisioner "shell-local" {
    only   = ["null.apple"]
    inline = ["echo only apple"]
  }

  provisioner "shell-local" {
    except = ["null.apple"]
    inline = ["echo everything but apple"]
  }

  post-processor "manifest" {
    only   = ["null.pear"]
    output = "pear-manifest.json"
  }
}
