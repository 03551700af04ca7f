# Follows hashicorp/packer command/test-fixtures/hcl/variables/list_of_string/var.pkr.hcl.

variable "users" {
  type = list(object({
    name   = string
    groups = list(string)
  }))
  default = [
    { name = "ann", groups = ["wheel"] },
    { name = "bob", groups = [] },
  ]
}

variable "packages" {
  type = map(list(string))
  default = {
    debian = ["curl", "vim"]
    fedora = ["curl"]
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo ${var.users[0].name} ${join(" ", var.packages["debian"])}"]
  }
}
