# Follows hashicorp/packer-plugin-qemu example/source.pkr.hcl (ssh_wait_timeout).

source "null" "remote" {
  ssh_host             = "10.0.1.20"
  ssh_username         = "ubuntu"
  ssh_password         = "secret"
  ssh_wait_timeout     = "10000s"
  ssh_bastion_host     = "bastion.example.com"
  ssh_bastion_username = "jump"
  ssh_bastion_password = "jump-secret"
}

build {
  sources = ["source.null.remote"]

  provisioner "shell" {
    inline = ["uname -a"]
  }
}
