# Follows hashicorp/packer-plugin-amazon docs (ami_regions, encryption).

source "amazon-ebs" "copied" {
  access_key    = "AKIAIOSFODNN7EXAMPLE"
  secret_key    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region                 = "us-east-1"
  ami_name               = "copied-base"
  source_ami             = "ami-0123456789abcdef0"
  instance_type          = "t3.micro"
  ssh_username           = "ubuntu"
  ami_regions            = ["us-west-2", "eu-west-1"]
  skip_region_validation = true
  encrypt_boot           = true
}

build {
  sources = ["source.amazon-ebs.copied"]
}
