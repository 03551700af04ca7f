# Follows a public image repo's variables.pkr.hcl written with Terraform habits (`type = any`).

variable "extra_tags" {
  type    = any
  default = {}
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
