# Follows hashicorp/packer command/test-fixtures/hcl/empty_object (var.pkr.hcl, setting.auto.pkrvars.hcl).

variable "lines" {
  default = []
}

variable "names" {
  default = {}
}

source "file" "base" {
}

build {
  source "sources.file.base" {
    target  = "${var.names.target}.txt"
    content = var.lines[0]
  }
}
