# Follows kwilczynski/packer-templates ubuntu-20.04-amd64-docker.json (as HCL2, after hcl2_upgrade).

source "docker" "ubuntu" {
  image   = "ubuntu:20.04"
  commit  = true
  changes = ["LABEL version=${var.version}"]
}

source "amazon-ebs" "ubuntu" {
  access_key                  = "AKIAIOSFODNN7EXAMPLE"
  secret_key                  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region                      = var.region
  ami_name                    = "${var.name}-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  instance_type               = "m5.large"
  associate_public_ip_address = true
  ssh_username                = "ubuntu"
  ssh_timeout                 = "1h"
  ssh_handshake_attempts      = 30
  source_ami_filter {
    filters = {
      name                = "*ubuntu-focal-20.04-amd64-server-*"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = ["099720109477"]
    most_recent = true
  }
  tags = {
    Name    = var.name
    Version = var.version
  }
}
