# Follows kwilczynski/packer-templates ubuntu-20.04-amd64-docker.json (as HCL2, after hcl2_upgrade).

build {
  sources = ["source.docker.ubuntu", "source.amazon-ebs.ubuntu"]

  provisioner "file" {
    source      = "${path.root}/files/common"
    destination = "/var/tmp"
  }

  provisioner "file" {
    only        = ["amazon-ebs.ubuntu"]
    source      = "${path.root}/files/ec2"
    destination = "/var/tmp"
  }

  provisioner "shell" {
    environment_vars  = ["BUILD_NUMBER=${var.build_number}"]
    execute_command   = "{{ .Vars }} bash ${var.debug ? "-xv" : ""} '{{ .Path }}'"
    expect_disconnect = true
    scripts           = ["${path.root}/scripts/update.sh", "${path.root}/scripts/docker.sh"]
  }

  post-processor "docker-tag" {
    only       = ["docker.ubuntu"]
    repository = "acme/${var.name}"
    tags       = [var.version]
  }
}
