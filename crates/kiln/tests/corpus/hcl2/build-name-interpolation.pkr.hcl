# Follows hashicorp/packer hcl2template/testdata/build/post-processor_build_name_interpolation.pkr.hcl.

source "file" "motd" {
  content = "welcome"
  target  = "motd.txt"
}

build {
  name    = "web"
  sources = ["source.file.motd"]

  provisioner "shell-local" {
    inline = ["echo building ${build.name} from ${source.name} (${source.type})"]
  }

  post-processor "compress" {
    output = "out/${build.name}-${source.name}.tar.gz"
  }
}
