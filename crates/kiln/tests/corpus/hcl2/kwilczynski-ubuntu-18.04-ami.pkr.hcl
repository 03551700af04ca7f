# Follows kwilczynski/packer-templates ubuntu-18.04-amd64.json (amazon-ebs builder, as HCL2).

variable "name" {
  type    = string
  default = "ubuntu-18.04-amd64"
}

variable "version" {
  type    = string
  default = "0.1.0"
}

variable "region" {
  type    = string
  default = "us-east-1"
}

locals {
  created = formatdate("EEE MMM D hh:mm:ss ZZZ YYYY", timestamp())
}

source "amazon-ebs" "ubuntu" {
  access_key                  = "AKIAIOSFODNN7EXAMPLE"
  secret_key                  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region                      = var.region
  ami_name                    = "${var.name}-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  ami_description             = "Ubuntu 18.04 x86_64 (amd64)"
  instance_type               = "m5.large"
  ami_virtualization_type     = "hvm"
  associate_public_ip_address = true
  temporary_key_pair_name     = "packer_${var.name}"
  ssh_username                = "ubuntu"
  ssh_timeout                 = "1h"
  source_ami_filter {
    filters = {
      name                = "*ubuntu-bionic-18.04-amd64-server-*"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = ["099720109477"]
    most_recent = true
  }
  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_type           = "gp2"
    volume_size           = 10
    delete_on_termination = true
  }
  run_tags = {
    Name = "packer_${var.name}"
  }
  tags = {
    Name         = var.name
    Version      = var.version
    CreationDate = local.created
    Architecture = "x86_64"
  }
}

build {
  sources = ["source.amazon-ebs.ubuntu"]

  provisioner "shell" {
    environment_vars  = ["PACKER_BUILD_VERSION=${var.version}"]
    execute_command   = "{{ .Vars }} sudo -H -S -E bash '{{ .Path }}'"
    expect_disconnect = true
    inline            = ["apt-get update", "apt-get -y dist-upgrade"]
  }
}
