# Follows chef/bento packer_templates (pkr-variables, pkr-sources, pkr-builder).

locals {
  qemu_binary  = var.os_arch == "aarch64" ? "qemu-system-aarch64" : "qemu-system-x86_64"
  qemu_machine = var.os_arch == "aarch64" ? "virt" : "q35"
  qemuargs = var.os_arch == "aarch64" ? [
    ["-boot", "strict=off"],
    ["-cpu", "cortex-a57"],
  ] : null
  vm_name = "${var.os_name}-${var.os_version}-${var.os_arch}"
}

source "qemu" "vm" {
  qemu_binary      = local.qemu_binary
  machine_type     = local.qemu_machine
  qemuargs         = local.qemuargs
  accelerator      = "tcg"
  boot_command     = var.boot_command
  boot_wait        = "5s"
  cpus             = 2
  memory           = 2048
  disk_size        = "65536"
  headless         = true
  http_directory   = "${path.root}/http"
  iso_url          = var.iso_url
  iso_checksum     = var.iso_checksum
  output_directory = "${path.root}/../builds/packer-${local.vm_name}-qemu"
  shutdown_command = "echo 'vagrant' | sudo -S /sbin/halt -h -p"
  ssh_password     = "vagrant"
  ssh_username     = "vagrant"
  ssh_timeout      = "15m"
  vm_name          = local.vm_name
}
