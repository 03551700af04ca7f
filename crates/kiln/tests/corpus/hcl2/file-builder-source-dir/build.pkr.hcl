# Follows hashicorp/packer builder/file docs (source instead of content).

source "file" "seed" {
  source = "${path.root}/data/seed.txt"
  target = "out/seed.txt"
}

build {
  sources = ["source.file.seed"]

  post-processor "checksum" {
    checksum_types = ["sha1", "sha256"]
  }
}
