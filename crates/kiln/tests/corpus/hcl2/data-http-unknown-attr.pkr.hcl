# Follows hashicorp/packer datasource/http docs.

data "http" "release" {
  url     = "http://127.0.0.1:9/release.json"
  headers = { Accept = "application/json" }
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]
}
