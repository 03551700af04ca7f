# Follows chef/bento packer_templates/pkr-builder.pkr.hcl.

variable "names" {
  type    = list(string)
  default = ["a", "b"]
}

locals {
  sources = concat([for n in var.names : "source.null.${n}"], ["source.file.c"])
}

source "null" "a" {
  communicator = "none"
}

source "null" "b" {
  communicator = "none"
}

source "file" "c" {
  content = "c"
  target  = "c.txt"
}

build {
  sources = local.sources
}
