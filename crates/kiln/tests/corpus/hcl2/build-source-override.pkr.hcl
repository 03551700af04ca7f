# Follows hashicorp/packer website docs templates/hcl_templates/blocks/build/source (lxd.arch example).

source "file" "base" {
  content = "base"
}

build {
  source "source.file.base" {
    name   = "first"
    target = "first.txt"
  }

  source "source.file.base" {
    name   = "second"
    target = "second.txt"
  }

  provisioner "shell-local" {
    only   = ["file.second"]
    inline = ["echo second only"]
  }
}
