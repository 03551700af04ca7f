# Follows chef/bento packer_templates/pkr-variables.pkr.hcl.

variable "os_arch" {
  type    = string
  default = "ppc64"

  validation {
    condition     = var.os_arch == "x86_64" || var.os_arch == "aarch64"
    error_message = "The OS architecture type should be either x86_64 or aarch64."
  }
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]
}
