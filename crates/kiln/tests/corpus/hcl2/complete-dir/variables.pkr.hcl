# Follows hashicorp/packer hcl2template/testdata/complete (build.pkr.hcl, sources.pkr.hcl, variables.pkr.hcl).

variable "foo" {
  type    = string
  default = "value"
}

variable "image_name" {
  type        = string
  default     = "foo-image-{{user `my_secret`}}"
  description = "a Go template left in a string is kept as is"
}

variables {
  cpus         = 1
  availability = ["a", "b"]
}

locals {
  feefoo = "${var.foo}_${var.image_name}"
}

local "secret" {
  expression = "super-${var.foo}"
  sensitive  = true
}
