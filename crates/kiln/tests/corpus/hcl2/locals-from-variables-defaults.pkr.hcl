# Follows a public box repo (the usual fix: derive values in locals, not in variable defaults).

variable "os_version" {
  type    = string
  default = "12"
}

locals {
  vm_name = "debian-${var.os_version}"
  key     = pathexpand("~/.ssh/id_ed25519.pub")
}

source "file" "name" {
  content = "${local.vm_name} ${local.key}"
  target  = "name.txt"
}

build {
  sources = ["source.file.name"]
}
