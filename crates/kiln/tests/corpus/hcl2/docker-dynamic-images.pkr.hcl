# Follows hashicorp/packer command/test-fixtures/hcl/dynamic/build.pkr.hcl (docker flavour).

variable "images" {
  type = map(string)
  default = {
    alpine = "alpine:3.19"
    debian = "debian:bookworm"
  }
}

source "docker" "base" {
  commit = true
}

build {
  dynamic "source" {
    for_each = var.images
    labels   = ["docker.base"]
    content {
      name  = source.key
      image = source.value
    }
  }

  post-processor "docker-tag" {
    repository = "acme/${source.name}"
    tags       = ["latest"]
  }
}
