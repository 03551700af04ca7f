# Follows chef/bento packer_templates/pkr-sources.pkr.hcl (settings chosen by conditionals on variables).

variable "memory" {
  type    = number
  default = null
}

variable "os_arch" {
  type    = string
  default = "aarch64"
}

source "qemu" "vm" {
  iso_url          = "https://example.invalid/os.iso"
  iso_checksum     = "none"
  memory           = var.memory == null ? 2048 : var.memory
  qemu_binary      = var.os_arch == "aarch64" ? "qemu-system-aarch64" : "qemu-system-x86_64"
  machine_type     = var.os_arch == "aarch64" ? "virt" : null
  headless         = true
  ssh_username     = "vagrant"
  ssh_password     = "vagrant"
  shutdown_command = "sudo poweroff"
}

build {
  sources = ["source.qemu.vm"]
}
