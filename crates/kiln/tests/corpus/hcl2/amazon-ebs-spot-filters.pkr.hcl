# Follows hashicorp/packer-plugin-amazon docs (spot instances, VPC filters).

source "amazon-ebs" "spot" {
  access_key    = "AKIAIOSFODNN7EXAMPLE"
  secret_key    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region              = "eu-west-1"
  ami_name            = "spot-${uuidv4()}"
  source_ami          = "ami-0123456789abcdef0"
  spot_instance_types = ["t3.micro", "t3a.micro"]
  spot_price          = "auto"
  ssh_username        = "ubuntu"

  vpc_filter {
    filters = {
      "tag:Name" = "build"
      isDefault  = "false"
    }
  }

  subnet_filter {
    filters = {
      "tag:Tier" = "public"
    }
    most_free = true
    random    = false
  }

  security_group_filter {
    filters = {
      "tag:Class" = "packer"
    }
  }
}

build {
  sources = ["source.amazon-ebs.spot"]
}
