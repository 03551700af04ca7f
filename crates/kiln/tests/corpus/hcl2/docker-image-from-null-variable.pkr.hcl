# Follows chef/bento packer_templates/pkr-variables.pkr.hcl (settings defaulting to null).

variable "image" {
  type    = string
  default = null
}

source "docker" "x" {
  image  = var.image
  commit = true
}

build {
  sources = ["source.docker.x"]
}
