# Follows hashicorp/packer hcl2template/types.variables.go (decodeVariableValidationBlock).

variable "os_name" {
  type    = string
  default = "debian"
}

variable "os_version" {
  type    = string
  default = "12"
  validation {
    condition     = var.os_name != "debian" || var.os_version != ""
    error_message = "Debian needs a version."
  }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
