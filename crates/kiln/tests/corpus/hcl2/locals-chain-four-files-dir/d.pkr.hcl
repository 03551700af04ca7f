# Follows hashicorp/packer hcl2template/testdata/variables/complicated (a, b, c, d .pkr.hcl).

source "file" "names" {
  content = join(",", local.bar_var)
  target  = "names.txt"
}

build {
  sources = ["source.file.names"]
}
