# Follows hashicorp/packer hcl2template/testdata/variables/basic.pkr.hcl.

variable "regions" {
  type    = list(string)
  default = ["us-east-1", "eu-west-1"]
}

variable "tags" {
  type = map(string)
  default = {
    team = "ops"
    env  = "dev"
  }
}

variable "disk" {
  type = object({
    size = number
    type = string
  })
  default = {
    size = 20
    type = "gp3"
  }
}

variable "headless" {
  type    = bool
  default = true
}

variable "cpus" {
  type    = number
  default = 2

  validation {
    condition     = var.cpus >= 1 && var.cpus <= 64
    error_message = "The cpus value must be between 1 and 64."
  }
}

variable "untyped" {
  default = "anything"
}

source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]

  provisioner "shell-local" {
    inline = [
      "echo ${join(",", var.regions)} ${var.tags["team"]} ${var.disk.size} ${var.headless} ${var.cpus} ${var.untyped}",
    ]
  }
}
