# Follows hashicorp/packer provisioner/shell docs.

source "null" "a" {
  ssh_host     = "127.0.0.1"
  ssh_username = "root"
  ssh_password = "x"
}

build {
  sources = ["source.null.a"]

  provisioner "shell" {
    inline = ["true"]
    script = "a.sh"
  }
}
