# Follows chef/bento packer_templates/pkr-builder.pkr.hcl (source_names for expression).

variable "disks" {
  type = list(object({ name = string, size = number }))
  default = [
    { name = "root", size = 20 },
    { name = "data", size = 100 },
  ]
}

locals {
  names      = [for d in var.disks : d.name]
  big        = [for d in var.disks : d.name if d.size > 50]
  by_name    = { for d in var.disks : d.name => d.size }
  sizes      = var.disks[*].size
  total      = sum(local.sizes)
  arch       = "x86_64"
  short_arch = local.arch == "x86_64" ? "amd64" : local.arch == "aarch64" ? "arm64" : local.arch
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo ${join(",", local.names)} ${join(",", local.big)} ${local.by_name["data"]} ${local.total} ${local.short_arch}"]
  }
}
