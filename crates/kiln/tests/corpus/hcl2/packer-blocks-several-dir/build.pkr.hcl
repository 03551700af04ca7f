# Follows a public box repo splitting versions.pkr.hcl and plugins.pkr.hcl.

source "docker" "debian" {
  image  = "debian:bookworm"
  commit = true
}

build {
  sources = ["source.docker.debian"]
}
