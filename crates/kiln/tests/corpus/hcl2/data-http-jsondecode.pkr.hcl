# Follows a public box repo fetching the latest release with data "http".

data "http" "release" {
  url = "http://127.0.0.1:9/releases/latest.json"
  request_headers = {
    Accept = "application/json"
  }
}

locals {
  release = jsondecode(data.http.release.body)
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo ${local.release.tag_name}"]
  }
}
