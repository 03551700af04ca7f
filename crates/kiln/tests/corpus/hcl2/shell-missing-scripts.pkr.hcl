# Follows chef/bento packer_templates/pkr-builder.pkr.hcl (scripts list).

source "null" "a" {
  ssh_host     = "127.0.0.1"
  ssh_username = "vagrant"
  ssh_password = "vagrant"
}

build {
  sources = ["source.null.a"]

  provisioner "shell" {
    scripts = ["${path.root}/scripts/_common/update_packages.sh", "${path.root}/scripts/_common/minimize.sh"]
  }
}
