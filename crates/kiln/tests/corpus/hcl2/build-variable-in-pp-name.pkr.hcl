# Follows hashicorp/packer command/test-fixtures/hcl/var-in-pp-name.pkr.hcl.

variable "pp_name" {
  type    = string
  default = "final-manifest"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    name   = "say-${var.pp_name}"
    inline = ["echo hi"]
  }

  post-processor "manifest" {
    name   = var.pp_name
    output = "${var.pp_name}.json"
  }
}
