# Follows chef/bento packer_templates/pkr-sources.pkr.hcl (http_content with templatefile).

variable "hostname" {
  type    = string
  default = "ubuntu"
}

locals {
  user_data = <<-EOF
    #cloud-config
    autoinstall:
      version: 1
      identity:
        hostname: ${var.hostname}
  EOF
}

source "qemu" "ubuntu" {
  iso_url      = "https://releases.ubuntu.com/24.04/ubuntu-24.04-live-server-amd64.iso"
  iso_checksum = "none"
  http_content = {
    "/user-data" = local.user_data
    "/meta-data" = ""
  }
  boot_command     = ["e<down><down><down><end> autoinstall ds=nocloud-net\\;s=http://{{ .HTTPIP }}:{{ .HTTPPort }}/<f10>"]
  ssh_username     = "ubuntu"
  ssh_password     = "ubuntu"
  ssh_timeout      = "45m"
  shutdown_command = "sudo shutdown -P now"
  headless         = true
}

build {
  sources = ["source.qemu.ubuntu"]
}
