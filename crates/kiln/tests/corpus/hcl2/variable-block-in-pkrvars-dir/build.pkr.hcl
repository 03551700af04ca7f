# Follows chef/bento os_pkrvars (a variable block pasted into a pkrvars file).

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
