# Follows chef/bento packer_templates/pkr-builder.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  sources = []
}
