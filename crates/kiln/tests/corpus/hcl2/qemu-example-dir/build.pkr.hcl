# Follows hashicorp/packer-plugin-qemu example/source.pkr.hcl and example/build.pkr.hcl.

build {
  sources = ["source.qemu.example"]

  provisioner "shell" {
    execute_command = "echo 'vagrant' | {{.Vars}} sudo -S -E bash '{{.Path}}'"
    inline          = ["apt-get update", "apt-get -y upgrade"]
  }
}
