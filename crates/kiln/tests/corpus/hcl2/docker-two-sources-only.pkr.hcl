# Follows kwilczynski/packer-templates ubuntu-20.04-amd64-docker.json (two docker images).

source "docker" "focal" {
  image  = "ubuntu:20.04"
  commit = true
}

source "docker" "jammy" {
  image  = "ubuntu:22.04"
  commit = true
}

build {
  name    = "ubuntu"
  sources = ["source.docker.focal", "source.docker.jammy"]

  provisioner "shell" {
    inline = ["apt-get update"]
  }

  provisioner "shell" {
    only   = ["docker.jammy"]
    inline = ["apt-get install -y python3"]
  }

  post-processor "docker-tag" {
    repository = "acme/ubuntu"
    tags       = [source.name == "focal" ? "20.04" : "22.04"]
  }
}
