# Follows hashicorp/packer-plugin-amazon docs (ami_name is required).

source "amazon-ebs" "x" {
  access_key    = "AKIAIOSFODNN7EXAMPLE"
  secret_key    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region        = "us-east-1"
  instance_type = "t3.micro"
  source_ami    = "ami-0123456789abcdef0"
  ssh_username  = "ubuntu"
}

build {
  sources = ["source.amazon-ebs.x"]
}
