# Follows chef/bento packer_templates (pkr-plugins.pkr.hcl, pkr-variables.pkr.hcl, pkr-sources.pkr.hcl, pkr-builder.pkr.hcl).

variable "os_name" {
  type        = string
  description = "OS Brand Name"
}

variable "os_version" {
  type        = string
  description = "OS version number"
}

variable "os_arch" {
  type = string
  validation {
    condition     = var.os_arch == "x86_64" || var.os_arch == "aarch64"
    error_message = "The OS architecture type should be either x86_64 or aarch64."
  }
}

variable "is_windows" {
  type    = bool
  default = false
}

variable "sources_enabled" {
  type    = list(string)
  default = ["source.qemu.vm"]
}

variable "iso_url" {
  type    = string
  default = null
}

variable "iso_checksum" {
  type    = string
  default = null
}

variable "boot_command" {
  type    = list(string)
  default = null
}

variable "http_proxy" {
  type    = string
  default = env("http_proxy")
}

variable "ssh_password" {
  type      = string
  default   = "vagrant"
  sensitive = true
}
