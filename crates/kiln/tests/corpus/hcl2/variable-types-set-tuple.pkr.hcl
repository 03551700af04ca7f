# Follows hashicorp/packer hcl2template/types.variables.go (types are read with typeexpr.Type: exact types only).

variable "zones" {
  type    = set(string)
  default = ["a", "b", "a"]
}

variable "pair" {
  type    = tuple([string, number])
  default = ["disk", 20]
}

variable "images" {
  type = map(object({ tag = string, size = number }))
  default = {
    web = { tag = "1.0", size = 10 }
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo ${length(var.zones)} ${var.pair[0]} ${var.images["web"].tag}"]
  }
}
