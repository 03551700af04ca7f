# Follows chef/bento packer_templates/pkr-variables.pkr.hcl.

variable "cpus" {
  type    = number
  default = "2"
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]

  provisioner "shell-local" {
    inline = ["echo ${var.cpus + 1}"]
  }
}
