# Follows hashicorp/packer provisioner/breakpoint docs.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo before"]
  }

  provisioner "breakpoint" {
    disable = true
    note    = "inspect here"
  }

  provisioner "sleep" {
    duration = "500ms"
  }
}
