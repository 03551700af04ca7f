# Follows hashicorp/packer hcl2template/testdata/datasources/basic.pkr.hcl.

data "null" "seed" {
  input = "seed-value"
}

data "http" "checksums" {
  url = "http://127.0.0.1:9/SHA256SUMS"
  request_headers = {
    Accept = "text/plain"
  }
}

locals {
  seed      = data.null.seed.output
  checksums = data.http.checksums.body
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo ${local.seed}", "echo '${local.checksums}' | head -n 1"]
  }
}
