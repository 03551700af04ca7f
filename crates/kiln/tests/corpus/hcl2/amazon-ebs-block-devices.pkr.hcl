# Follows chef/bento packer_templates/amazonlinux/amazon-2-x86_64.json.pkr.hcl.

source "amazon-ebs" "amzn2" {
  access_key    = "AKIAIOSFODNN7EXAMPLE"
  secret_key    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region        = "us-west-2"
  ami_name      = "amzn2-base"
  instance_type = "m5.large"
  source_ami    = "ami-0123456789abcdef0"
  ssh_username  = "ec2-user"

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = 20
    volume_type           = "gp2"
    delete_on_termination = true
  }

  run_tags = {
    Purpose = "packer"
  }

  snapshot_tags = {
    Name = "amzn2-base-root"
  }
}

build {
  sources = ["source.amazon-ebs.amzn2"]
}
