# Follows hashicorp/packer-plugin-qemu docs (iso_checksum is required).

source "qemu" "x" {
  iso_url          = "https://cdimage.debian.org/cdimage/archive/12.5.0/amd64/iso-cd/debian-12.5.0-amd64-netinst.iso"
  ssh_username     = "vagrant"
  ssh_password     = "vagrant"
  shutdown_command = "sudo poweroff"
}

build {
  sources = ["source.qemu.x"]
}
