# Follows hashicorp/packer website docs post-processors/artifice.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  post-processors {
    post-processor "shell-local" {
      inline = ["echo data > artifact.txt"]
    }
    post-processor "artifice" {
      files = ["artifact.txt"]
    }
    post-processor "checksum" {
      checksum_types = ["sha1"]
      keep_input_artifact = true
    }
  }
}
