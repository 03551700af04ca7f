# Follows travis-ci/packer-templates internal-base (common tags merged per image).

locals {
  common_tags = {
    Team    = "infra"
    Builder = "packer"
  }
}

source "amazon-ebs" "base" {
  access_key    = "AKIAIOSFODNN7EXAMPLE"
  secret_key    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region        = "us-east-1"
  ami_name      = "internal-base"
  source_ami    = "ami-0123456789abcdef0"
  instance_type = "t3.micro"
  ssh_username  = "ubuntu"
  tags          = merge(local.common_tags, { Name = "internal-base", Role = "base" })
  run_tags      = local.common_tags
}

build {
  sources = ["source.amazon-ebs.base"]
}
