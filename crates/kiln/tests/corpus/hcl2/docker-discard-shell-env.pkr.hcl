# Follows hashicorp/packer command/test-fixtures/docker/basic.json (as HCL2).

source "docker" "test" {
  image   = "debian:bookworm"
  discard = true
}

build {
  sources = ["source.docker.test"]

  provisioner "shell" {
    environment_vars = ["A=1"]
    env = {
      B = "2"
    }
    inline = ["echo $A $B"]
  }
}
