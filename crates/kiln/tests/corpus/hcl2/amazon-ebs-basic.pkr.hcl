# Follows hashicorp/packer-plugin-amazon example/build.pkr.hcl.

locals { timestamp = regex_replace(timestamp(), "[- TZ:]", "") }

source "amazon-ebs" "basic-example" {
  access_key    = "AKIAIOSFODNN7EXAMPLE"
  secret_key    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region        = "us-east-1"
  ami_name      = "packer-example-${local.timestamp}"
  communicator  = "ssh"
  instance_type = "t3.micro"
  source_ami    = "ami-0123456789abcdef0"
  ssh_username  = "ubuntu"
  tags = {
    Name      = "packer-example"
    BuildDate = local.timestamp
  }
}

build {
  sources = ["source.amazon-ebs.basic-example"]

  provisioner "shell" {
    inline = ["echo hello from ${source.name}"]
  }
}
