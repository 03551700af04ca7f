# Follows chef/bento os_pkrvars.

variable "os_name" {
  type    = string
  default = "debian"
}

source "file" "info" {
  content = var.os_name
  target  = "info.txt"
}

build {
  sources = ["source.file.info"]
}
