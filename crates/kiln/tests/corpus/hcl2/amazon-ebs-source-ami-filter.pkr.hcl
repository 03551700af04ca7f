# Follows hashicorp/packer-plugin-amazon example/instance-metadata/ubuntu-imdsv2-enabled.pkr.hcl.

source "amazon-ebs" "ubuntu" {
  access_key    = "AKIAIOSFODNN7EXAMPLE"
  secret_key    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region        = "us-east-1"
  ami_name      = "imdsv2-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  instance_type = "t3.micro"
  ssh_username  = "ubuntu"
  imds_support  = "v2.0"

  source_ami_filter {
    filters = {
      virtualization-type = "hvm"
      name                = "ubuntu/images/*ubuntu-jammy-22.04-amd64-server-*"
      root-device-type    = "ebs"
    }
    owners      = ["099720109477"]
    most_recent = true
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
}

build {
  sources = ["source.amazon-ebs.ubuntu"]
}
