# The HCL2 twin of equivalent.json: both must build the same files and manifest.
variable "greeting" {
  type    = string
  default = "hello"
}

source "file" "hello" {
  content = "${var.greeting} world\n"
  target  = "hello.txt"
}

source "null" "alpha" {
  communicator = "none"
}

build {
  sources = ["source.file.hello", "source.null.alpha"]

  provisioner "shell-local" {
    only   = ["null.alpha"]
    inline = ["echo ${var.greeting} from $PACKER_BUILD_NAME > ${source.type}.${source.name}.out"]
  }

  post-processors {
    post-processor "checksum" {
      checksum_types = ["md5", "sha256"]
      output         = "{{.BuildName}}.{{.ChecksumType}}"
    }
    post-processor "manifest" {
      output     = "manifest.json"
      strip_path = true
      strip_time = true
    }
  }
}
