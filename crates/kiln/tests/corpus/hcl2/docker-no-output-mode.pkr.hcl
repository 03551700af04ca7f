# Follows hashicorp/packer-plugin-docker docs (docker builder with changes and docker-tag/docker-push post-processors).

source "docker" "x" {
  image = "alpine:3.19"
}

build {
  sources = ["source.docker.x"]
}
