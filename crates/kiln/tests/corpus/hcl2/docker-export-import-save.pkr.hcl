# Follows hashicorp/packer-plugin-docker docs (docker builder with changes and docker-tag/docker-push post-processors).

source "docker" "alpine" {
  image       = "alpine:3.19"
  export_path = "alpine.tar"
}

build {
  sources = ["source.docker.alpine"]

  post-processors {
    post-processor "docker-import" {
      repository = "acme/alpine"
      tag        = "0.1"
      changes    = ["WORKDIR /srv"]
    }
    post-processor "docker-save" {
      path = "alpine-saved.tar"
    }
  }
}
