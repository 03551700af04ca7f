# Two null builds from one source, a shell-local provisioner and a manifest.
packer {
  required_version = ">= 1.5.0"
}

locals {
  words   = split(" ", local.phrase)
  phrase  = "${upper(var.greeting)} from kiln"
  retries = var.retries + 1
}

variable "greeting" {
  type        = string
  default     = "hello"
  description = "What to say."
}

variable "retries" {
  type    = number
  default = "1"
}

source "null" "base" {
  communicator = "none"
}

build {
  name        = "demo"
  description = "a demo build"

  source "source.null.base" {
    name = "alpha"
  }
  source "null.base" {
    name = "beta"
  }

  provisioner "shell-local" {
    environment_vars = ["GREETING=${local.words[0]}", "TYPE=${source.type}"]
    inline           = ["echo $GREETING from ${build.name}/${source.name} on $TYPE, ${length(local.words)} words"]
    max_retries      = local.retries
    pause_before     = "0s"
    override = {
      "null.beta" = {
        inline = ["echo beta is different"]
      }
    }
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_time = true
  }
}
