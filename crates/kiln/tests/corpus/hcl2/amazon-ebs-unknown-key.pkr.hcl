# Follows hashicorp/packer command/test-fixtures/hcl2_upgrade/aws-access-config/expected.pkr.hcl.

source "amazon-ebs" "x" {
  access_key    = "AKIAIOSFODNN7EXAMPLE"
  secret_key    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region         = "us-east-1"
  ami_name       = "typo-example"
  ami_descripton = "misspelt"
  instance_type  = "t3.micro"
  source_ami     = "ami-0123456789abcdef0"
  ssh_username   = "ubuntu"
}

build {
  sources = ["source.amazon-ebs.x"]
}
