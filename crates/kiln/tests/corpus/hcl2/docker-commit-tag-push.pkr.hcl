# Follows hashicorp/packer-plugin-docker docs (docker builder with changes and docker-tag/docker-push post-processors).

variable "repository" {
  type    = string
  default = "registry.example.com/acme/base"
}

source "docker" "debian" {
  image  = "debian:bookworm"
  commit = true
  changes = [
    "ENV LANG C.UTF-8",
    "LABEL org.opencontainers.image.version=1.0",
    "EXPOSE 8080",
    "ENTRYPOINT [\"/bin/sh\", \"-c\"]",
  ]
}

build {
  sources = ["source.docker.debian"]

  provisioner "shell" {
    inline = ["apt-get update", "apt-get install -y curl"]
  }

  post-processors {
    post-processor "docker-tag" {
      repository = var.repository
      tags       = ["1.0", "latest"]
    }
    post-processor "docker-push" {
      login = false
    }
  }
}
