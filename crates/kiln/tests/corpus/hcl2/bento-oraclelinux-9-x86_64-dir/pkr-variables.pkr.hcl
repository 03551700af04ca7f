# Follows chef/bento packer_templates (pkr-variables, pkr-sources, pkr-builder).

variable "os_name" {
  type = string
}

variable "os_version" {
  type = string
}

variable "os_arch" {
  type = string
  validation {
    condition     = var.os_arch == "x86_64" || var.os_arch == "aarch64"
    error_message = "The OS architecture type should be either x86_64 or aarch64."
  }
}

variable "iso_url" {
  type = string
}

variable "iso_checksum" {
  type    = string
  default = "none"
}

variable "boot_command" {
  type    = list(string)
  default = null
}

variable "is_windows" {
  type    = bool
  default = false
}

variable "sources_enabled" {
  type    = list(string)
  default = ["source.qemu.vm"]
}

variable "qemu_efi_boot" {
  type    = bool
  default = null
}
