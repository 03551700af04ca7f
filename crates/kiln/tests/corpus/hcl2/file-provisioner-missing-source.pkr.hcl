# Follows hashicorp/packer provisioner/file docs.

source "null" "a" {
  ssh_host     = "127.0.0.1"
  ssh_username = "root"
  ssh_password = "x"
}

build {
  sources = ["source.null.a"]

  provisioner "file" {
    source      = "files/app.tar.gz"
    destination = "/tmp/app.tar.gz"
  }
}
