# Follows hashicorp/packer command/test-fixtures/hcl/variables/list_of_string/var.pkr.hcl.

variable "disk" {
  type = object({
    size = number
    type = string
  })
  default = {
    size = 20
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
