# Follows hashicorp/packer hcl2template/testdata/datasources/basic.pkr.hcl.

variable "greeting" {
  type    = string
  default = "hello"
}

data "null" "msg" {
  input = "${var.greeting} world"
}

source "file" "msg" {
  content = data.null.msg.output
  target  = "msg.txt"
}

build {
  sources = ["source.file.msg"]
}
