# Follows chef/bento packer_templates/pkr-variables.pkr.hcl.

variable "http_proxy" {
  type        = string
  default     = env("http_proxy")
  description = "Http proxy url to connect to the internet"
}

variable "no_proxy" {
  type    = string
  default = env("no_proxy")
}

source "null" "vm" {
  communicator = "none"
}

build {
  sources = ["source.null.vm"]

  provisioner "shell-local" {
    environment_vars = ["http_proxy=${var.http_proxy}", "no_proxy=${var.no_proxy}"]
    inline           = ["echo proxy=$http_proxy"]
  }
}
