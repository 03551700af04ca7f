# Follows chef/bento packer_templates (pkr-plugins.pkr.hcl, pkr-variables.pkr.hcl, pkr-sources.pkr.hcl, pkr-builder.pkr.hcl).

locals {
  output_directory = "${path.root}/../builds/build_files/packer-${var.os_name}-${var.os_version}-${var.os_arch}"
  vm_name          = "${var.os_name}-${var.os_version}-${var.os_arch}"
}

source "qemu" "vm" {
  accelerator      = "kvm"
  boot_command     = var.boot_command
  boot_wait        = "5s"
  cpus             = 2
  memory           = 2048
  disk_size        = "65536"
  headless         = true
  http_directory   = "${path.root}/http"
  iso_url          = var.iso_url
  iso_checksum     = "sha256:0262488ce2cec6d95a6c9002cfba8b81ac0d1c29fe7993aa5af30f81cecad3eb"
  output_directory = "${local.output_directory}-qemu"
  shutdown_command = "echo 'vagrant' | sudo -S /sbin/halt -h -p"
  ssh_password     = var.ssh_password
  ssh_port         = 22
  ssh_timeout      = "15m"
  ssh_username     = "vagrant"
  vm_name          = local.vm_name
}
