# Follows hashicorp/packer hcl2template/function (function library).

locals {
  name = to_snake_case("Web Server")
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
