# Follows chef/bento packer_templates/pkr-variables.pkr.hcl.

variable "scripts" {
  type    = list(string)
  default = null
}

variable "boot_wait" {
  type    = string
  default = null
}

locals {
  scripts   = var.scripts == null ? ["echo default script"] : var.scripts
  boot_wait = coalesce(var.boot_wait, "5s")
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]

  provisioner "shell-local" {
    inline = concat(local.scripts, ["echo ${local.boot_wait}"])
  }
}
