# Follows hashicorp/packer command/test-fixtures/hcl/dynamic/build.pkr.hcl.

source "file" "base" {
}

variables {
  flavours = {
    plain = {
      target = "plain"
      layers = ["base/main"]
    }
    deluxe = {
      target = "deluxe"
      layers = ["base/main", "base/extra", "deluxe"]
    }
  }
}

locals {
  notes = {
    first  = { suffix = "one" }
    second = { suffix = "two" }
  }
}

build {
  dynamic "source" {
    for_each = var.flavours
    labels   = ["file.base"]
    content {
      name    = source.key
      target  = "${source.value.target}.txt"
      content = join("\n", formatlist("layers/%s", var.flavours[source.key].layers))
    }
  }

  dynamic "provisioner" {
    for_each = local.notes
    labels   = ["shell-local"]
    content {
      inline = ["echo ${source.name}-${provisioner.value.suffix}"]
    }
  }
}
