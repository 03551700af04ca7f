# Follows chef/bento packer_templates/pkr-variables.pkr.hcl.

variable "build_date" {
  type    = string
  default = formatdate("YYYYMMDD", timestamp())
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]
}
