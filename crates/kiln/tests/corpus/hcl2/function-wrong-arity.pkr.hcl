# Follows hashicorp/packer hcl2template/function (function library).

locals {
  joined = join(["a", "b"])
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
