# Follows hashicorp/packer-plugin-amazon docs (ssh_interface = session_manager).

source "amazon-ebs" "ssm" {
  access_key    = "AKIAIOSFODNN7EXAMPLE"
  secret_key    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region               = "us-east-1"
  ami_name             = "ssm-example"
  instance_type        = "t3.micro"
  source_ami           = "ami-0123456789abcdef0"
  ssh_username         = "ubuntu"
  ssh_interface        = "session_manager"
  iam_instance_profile = "SSMInstanceProfile"
}

build {
  sources = ["source.amazon-ebs.ssm"]
}
