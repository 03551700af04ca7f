# Follows a public image repo's variables.pkr.hcl written with Terraform habits (`optional()`).

variable "disk" {
  type = object({
    size = number
    type = optional(string)
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
