# Follows hashicorp/packer post-processor/manifest docs (custom_data).

variable "commit" {
  type    = string
  default = "0000000"
}

locals {
  meta = {
    commit = var.commit
    date   = formatdate("YYYY-MM-DD", "2024-05-06T07:08:09Z")
  }
}

source "file" "a" {
  content = "a"
  target  = "a.txt"
}

build {
  sources = ["source.file.a"]

  post-processor "manifest" {
    output      = "manifest.json"
    strip_path  = true
    strip_time  = true
    custom_data = local.meta
  }
}
