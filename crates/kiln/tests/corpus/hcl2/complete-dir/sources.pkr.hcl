# Follows hashicorp/packer hcl2template/testdata/complete (build.pkr.hcl, sources.pkr.hcl, variables.pkr.hcl).

source "file" "ubuntu-1604" {
  content = "xenial ${var.cpus}"
  target  = "xenial.txt"
}

source "file" "ubuntu-1804" {
  content = "bionic"
}
