# Follows chef/bento packer_templates/pkr-variables.pkr.hcl.

variable "cpus" {
  type    = number
  default = "two"
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]
}
