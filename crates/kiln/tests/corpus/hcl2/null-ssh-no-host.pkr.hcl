# Follows hashicorp/packer builder/null docs.

source "null" "remote" {
  ssh_username = "ubuntu"
}

build {
  sources = ["source.null.remote"]
}
