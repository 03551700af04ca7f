# Follows chef/bento os_pkrvars (value of the wrong type).

variable "boot_command" {
  type    = list(string)
  default = []
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
