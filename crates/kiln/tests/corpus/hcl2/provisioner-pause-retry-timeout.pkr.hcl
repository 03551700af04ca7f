# Follows hashicorp/packer hcl2template/testdata/build/provisioner_paused_before_retry.pkr.hcl.

source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]

  provisioner "shell-local" {
    pause_before = "2s"
    max_retries  = 5
    inline       = ["echo hello"]
  }

  provisioner "shell-local" {
    timeout = "5m"
    inline  = ["echo bounded"]
  }

  provisioner "sleep" {
    duration = "1s"
  }
}
