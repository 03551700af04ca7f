# Follows hashicorp/packer command/test-fixtures/hcl/dynamic/build.pkr.hcl (dynamic post-processor).

variable "algorithms" {
  type    = list(string)
  default = ["sha256", "sha512"]
}

source "file" "a" {
  content = "a"
  target  = "a.txt"
}

build {
  sources = ["source.file.a"]

  dynamic "post-processor" {
    for_each = var.algorithms
    labels   = ["checksum"]
    content {
      checksum_types = [post-processor.value]
      output         = "a.${post-processor.value}"
    }
  }
}
