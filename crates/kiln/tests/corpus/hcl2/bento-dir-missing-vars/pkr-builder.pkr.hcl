# Follows chef/bento packer_templates (pkr-plugins.pkr.hcl, pkr-variables.pkr.hcl, pkr-sources.pkr.hcl, pkr-builder.pkr.hcl).

source "null" "vm" {
  communicator = "none"
}

build {
  sources = var.sources_enabled

  provisioner "shell-local" {
    inline = ["echo ${var.os_name}-${var.os_version}"]
  }
}
