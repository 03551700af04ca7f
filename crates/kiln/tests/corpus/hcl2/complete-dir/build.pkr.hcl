# Follows hashicorp/packer hcl2template/testdata/complete (build.pkr.hcl, sources.pkr.hcl, variables.pkr.hcl).

build {
  sources = ["source.file.ubuntu-1604"]

  source "source.file.ubuntu-1804" {
    name   = "bionic-copy"
    target = "bionic-copy.txt"
  }

  provisioner "shell-local" {
    name   = "announce"
    inline = ["echo ${local.feefoo} ${source.name}"]
  }

  post-processor "manifest" {
    output = "complete-manifest.json"
  }
}
