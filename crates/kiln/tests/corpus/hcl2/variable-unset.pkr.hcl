# Follows chef/bento packer_templates/pkr-variables.pkr.hcl.

variable "os_name" {
  type        = string
  description = "OS Brand Name"
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]

  provisioner "shell-local" {
    inline = ["echo ${var.os_name}"]
  }
}
