# Follows hashicorp/packer command/test-fixtures/hcl/recursive_local_with_input/locals.pkr.hcl.

variable "name" {
  type    = string
  default = "web"
}

locals {
  full   = "${local.prefix}-${local.suffix}"
  prefix = upper(var.name)
  suffix = formatdate("YYYY", "2024-01-02T03:04:05Z")
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]

  provisioner "shell-local" {
    inline = ["echo ${local.full}"]
  }
}
