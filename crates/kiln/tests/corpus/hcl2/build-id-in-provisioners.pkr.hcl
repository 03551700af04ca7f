# Follows hashicorp/packer command/test-fixtures/build-variable-sharing/basic_template.pkr.hcl.

source "null" "chocolate" {
  communicator = "none"
}

build {
  sources = ["null.chocolate"]

  provisioner "shell-local" {
    inline = ["echo hi > provisioner.${build.ID}.txt"]
  }

  post-processor "shell-local" {
    inline = ["echo hi > post-processor.${build.ID}.txt"]
  }
}
