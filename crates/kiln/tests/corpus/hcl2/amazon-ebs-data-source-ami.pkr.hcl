# Follows hashicorp/packer-plugin-amazon example/build.pkr.hcl (source_ami from a data source; a null data source stands in for amazon-ami).

data "null" "ami" {
  input = "ami-0123456789abcdef0"
}

source "amazon-ebs" "debian" {
  access_key    = "AKIAIOSFODNN7EXAMPLE"
  secret_key    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  region        = "eu-central-1"
  ami_name      = "debian-12-${uuidv4()}"
  instance_type = "t3.micro"
  source_ami    = data.null.ami.output
  ssh_username  = "admin"
}

build {
  sources = ["source.amazon-ebs.debian"]
}
