# Follows hashicorp/packer command/test-fixtures/hcl/reprepare/shell-local.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    script = "scripts/missing.sh"
  }
}
