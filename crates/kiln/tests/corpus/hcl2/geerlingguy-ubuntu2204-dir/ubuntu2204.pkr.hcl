# Follows geerlingguy/packer-boxes ubuntu2204/box-config.json (as HCL2).

variable "version" {
  type    = string
  default = ""
}

source "qemu" "ubuntu2204" {
  boot_command = [
    "c",
    "linux /casper/vmlinuz autoinstall ",
    "ds='nocloud-net;s=http://{{ .HTTPIP }}:{{ .HTTPPort }}/' --- <enter><wait>",
    "initrd /casper/initrd<enter><wait>",
    "boot<enter>"
  ]
  boot_wait        = "10s"
  disk_size        = "81920"
  headless         = true
  http_directory   = "${path.root}/http"
  iso_urls         = ["ubuntu-22.04-live-server-amd64.iso", "https://releases.ubuntu.com/22.04/ubuntu-22.04-live-server-amd64.iso"]
  iso_checksum     = "sha256:84aeaf7823c8c61baa0ae862d0a06b03409394800000b3235854a6b38eb4856f"
  ssh_username     = "vagrant"
  ssh_password     = "vagrant"
  ssh_timeout      = "30m"
  shutdown_command = "echo 'vagrant'|sudo -S shutdown -P now"
  vm_name          = "packer-ubuntu-22.04-amd64"
  qemuargs         = [["-m", "1024"], ["-smp", "1"]]
}

build {
  sources = ["source.qemu.ubuntu2204"]

  provisioner "shell" {
    execute_command = "echo 'vagrant' | {{.Vars}} sudo -S -E bash '{{.Path}}'"
    script          = "${path.root}/scripts/setup.sh"
  }

  provisioner "shell" {
    execute_command = "echo 'vagrant' | {{.Vars}} sudo -S -E bash '{{.Path}}'"
    script          = "${path.root}/scripts/cleanup.sh"
  }

  post-processor "compress" {
    output = "builds/${source.name}-${var.version}.tar.gz"
  }
}
