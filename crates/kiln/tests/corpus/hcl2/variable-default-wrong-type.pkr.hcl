# Follows chef/bento packer_templates/pkr-variables.pkr.hcl.

variable "sources_enabled" {
  type        = list(string)
  default     = "source.null.vm"
  description = "Build sources to use"
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]
}
