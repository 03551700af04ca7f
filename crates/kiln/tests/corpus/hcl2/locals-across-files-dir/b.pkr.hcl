# Follows chef/bento packer_templates.

locals {
  os      = "debian"
  version = "12"
}
