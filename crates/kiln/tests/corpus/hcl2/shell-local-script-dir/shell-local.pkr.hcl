# Follows hashicorp/packer command/test-fixtures/hcl/reprepare/shell-local.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    script = "${path.root}/hello.sh"
    env = {
      GREETING = "hi"
    }
  }

  post-processor "shell-local" {
    scripts          = ["${path.root}/hello.sh"]
    environment_vars = ["GREETING=bye"]
  }
}
