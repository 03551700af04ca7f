# Follows hashicorp/packer-plugin-qemu example/efi_build/efi-debian.pkr.hcl.

variable "iso_url" {
  type    = string
  default = "https://cdimage.debian.org/cdimage/archive/12.5.0/amd64/iso-cd/debian-12.5.0-amd64-netinst.iso"
}

source "qemu" "efi" {
  iso_url          = var.iso_url
  iso_checksum     = "none"
  accelerator      = "kvm"
  machine_type     = "q35"
  cpus             = 2
  memory           = 2048
  format           = "qcow2"
  headless         = true
  http_content = {
    "/preseed.cfg" = "d-i debian-installer/locale string en_US"
  }
  qemuargs         = [["-serial", "mon:stdio"]]
  boot_command     = ["<wait>c<wait>linux /install.amd/vmlinuz auto=true url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/preseed.cfg<enter>boot<enter>"]
  ssh_username     = "debian"
  ssh_password     = "debian"
  ssh_timeout      = "30m"
  shutdown_command = "sudo poweroff"
}

build {
  sources = ["source.qemu.efi"]

  provisioner "file" {
    content     = "configured by packer"
    destination = "/tmp/packer.txt"
  }
}
