# Follows hashicorp/packer hcl2template/function (function library).

variable "settings" {
  type    = map(string)
  default = { region = "eu-west-1" }
}

locals {
  now      = timestamp()
  day      = formatdate("YYYY-MM-DD", local.now)
  later    = timeadd(local.now, "1h")
  iso      = legacy_isotime("2006-01-02")
  zone     = try(var.settings["zone"], "${var.settings["region"]}a")
  has_zone = can(var.settings["zone"])
  label    = local.has_zone ? "zoned" : "regional"
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo ${local.day} ${local.zone} ${local.label} ${local.iso}"]
  }
}
