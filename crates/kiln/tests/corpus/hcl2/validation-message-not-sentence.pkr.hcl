# Follows chef/bento packer_templates/pkr-variables.pkr.hcl (validation block, message written in lower case).

variable "qemu_format" {
  type    = string
  default = "qcow2"
  validation {
    condition     = var.qemu_format == "qcow2" || var.qemu_format == "raw"
    error_message = "disk format, takes qcow2 or raw"
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
