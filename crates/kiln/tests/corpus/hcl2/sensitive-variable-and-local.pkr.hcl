# Follows hashicorp/packer command/test-fixtures/hcl-inspect-with-sensitive-vars/vars.pkr.hcl.

variable "not_sensitive" {
  default = "I am soooo not sensitive"
}

variable "sensitive" {
  default   = "I am soooo sensitive"
  sensitive = true
}

variable "sensitive_map" {
  type = map(string)
  default = {
    key = "some-secret"
  }
  sensitive = true
}

local "password" {
  expression = "${var.sensitive}-suffix"
  sensitive  = true
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    environment_vars = ["PW=${local.password}", "KEY=${var.sensitive_map["key"]}"]
    inline           = ["test -n \"$PW\""]
  }
}
