# Follows hashicorp/packer hcl2template/testdata/build/post-processor_inexistent.pkr.hcl.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  post-processor "inexistent" {
    foo = "bar"
  }
}
