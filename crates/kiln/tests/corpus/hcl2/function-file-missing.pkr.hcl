# Follows hashicorp/packer hcl2template/function (function library).

locals {
  key = file("${path.root}/keys/id_rsa.pub")
}

source "file" "a" {
  content = local.key
  target  = "a.txt"
}

build {
  sources = ["source.file.a"]
}
