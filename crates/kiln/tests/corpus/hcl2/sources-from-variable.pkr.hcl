# Follows chef/bento packer_templates/pkr-builder.pkr.hcl.

variable "is_windows" {
  type    = bool
  default = false
}

variable "sources_enabled" {
  type    = list(string)
  default = ["source.null.linux", "source.null.other"]
}

locals {
  source_names = [for source in var.sources_enabled : trimprefix(source, "source.")]
}

source "null" "linux" {
  communicator = "none"
}

source "null" "other" {
  communicator = "none"
}

build {
  sources = var.sources_enabled

  provisioner "shell-local" {
    inline = ["echo linux step on ${source.name}"]
    except = var.is_windows ? local.source_names : null
  }

  provisioner "shell-local" {
    inline = ["echo windows step"]
    except = var.is_windows ? null : local.source_names
  }
}
