# Follows kwilczynski/packer-templates ubuntu-20.04-amd64-docker.json (as HCL2, after hcl2_upgrade).

variable "name" {
  type    = string
  default = "ubuntu-20.04-amd64-docker"
}

variable "version" {
  type    = string
  default = "0.1.0"
}

variable "build_number" {
  type    = string
  default = env("BUILD_NUMBER")
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "debug" {
  type    = bool
  default = false
}
