# Follows hashicorp/packer communicator docs (ssh_agent_auth).

source "null" "host" {
  ssh_host       = "192.0.2.10"
  ssh_port       = 2222
  ssh_username   = "deploy"
  ssh_agent_auth = true
}

build {
  sources = ["source.null.host"]

  provisioner "shell" {
    inline        = ["hostname"]
    remote_folder = "/var/tmp"
  }
}
