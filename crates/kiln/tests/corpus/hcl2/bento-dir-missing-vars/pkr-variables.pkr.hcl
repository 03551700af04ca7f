# Follows chef/bento packer_templates (pkr-plugins.pkr.hcl, pkr-variables.pkr.hcl, pkr-sources.pkr.hcl, pkr-builder.pkr.hcl).

variable "os_name" {
  type = string
}

variable "os_version" {
  type = string
}

variable "sources_enabled" {
  type    = list(string)
  default = ["source.null.vm"]
}
