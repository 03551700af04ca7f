# Follows chef/bento os_pkrvars (values supplied by an .auto.pkrvars.hcl file).

variable "os_name" {
  type = string
}

variable "os_version" {
  type = string
}

source "file" "info" {
  content = "${var.os_name} ${var.os_version}"
  target  = "info.txt"
}

build {
  sources = ["source.file.info"]
}
