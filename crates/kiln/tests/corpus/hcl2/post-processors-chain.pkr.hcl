# Follows hashicorp/packer hcl2template/testdata/build/post-processor_onlyexcept.pkr.hcl.

source "file" "readme" {
  content = "hello"
  target  = "readme.txt"
}

build {
  sources = ["source.file.readme"]

  post-processors {
    post-processor "compress" {
      output = "readme.tar.gz"
    }
    post-processor "checksum" {
      checksum_types = ["sha256", "md5"]
      output         = "readme.{{.ChecksumType}}"
    }
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
    custom_data = {
      built_by = "ci"
    }
  }
}
