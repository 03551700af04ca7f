# Follows hashicorp/packer command/test-fixtures/hcl/reprepare/shell-local.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  post-processor "shell-local" {
    script = "scripts/missing.sh"
  }
}
