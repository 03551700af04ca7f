# Follows a public box repo whose variable default refers to another variable.

variable "os_version" {
  type    = string
  default = "12"
}

variable "vm_name" {
  type    = string
  default = "debian-${var.os_version}"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
