# Follows hashicorp/packer hcl2template/testdata/communicator/basic.pkr.hcl.

communicator "ssh" "vagrant" {
  ssh_username = "vagrant"
  ssh_password = "vagrant"
  ssh_timeout  = "10m"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
