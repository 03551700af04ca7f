# Follows hashicorp/packer website docs templates/hcl_templates/functions/contextual/env (env only in variable defaults).

locals {
  home = env("HOME")
}

source "file" "home" {
  content = local.home
  target  = "home.txt"
}

build {
  sources = ["source.file.home"]
}
