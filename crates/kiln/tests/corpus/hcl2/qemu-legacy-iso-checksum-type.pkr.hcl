# Follows chef/bento packer_templates/debian/debian-10.11-amd64.json.pkr.hcl (hcl2_upgrade output of an old template).

source "qemu" "old" {
  iso_url           = "http://cdimage.debian.org/cdimage/archive/10.11.0/amd64/iso-cd/debian-10.11.0-amd64-netinst.iso"
  iso_checksum      = "8488abc1361590ee7a3c9b00ec059b29dfb1da40f8ba4adf293c7a30fa943eb2"
  iso_checksum_type = "sha256"
  ssh_username      = "vagrant"
  ssh_password      = "vagrant"
  shutdown_command  = "sudo poweroff"
}

build {
  sources = ["source.qemu.old"]
}
