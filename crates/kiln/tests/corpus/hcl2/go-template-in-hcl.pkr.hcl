# Follows hashicorp/packer hcl2template/testdata/build/provisioner_build_name_interpolation.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    execute_command = ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"]
    name            = build.name
    inline          = ["echo {{ build_name }} {{packer_version}}"]
  }
}
