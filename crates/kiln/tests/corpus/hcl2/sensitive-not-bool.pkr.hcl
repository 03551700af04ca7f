# Follows hashicorp/packer command/test-fixtures/hcl-inspect-with-sensitive-vars/vars.pkr.hcl.

variable "token" {
  default   = "abc"
  sensitive = "yes"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
