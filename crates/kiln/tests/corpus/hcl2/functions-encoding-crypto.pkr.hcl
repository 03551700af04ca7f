# Follows hashicorp/packer hcl2template/function (function library).

locals {
  doc     = { name = "web", ports = [80, 443], html = "<b>&</b>" }
  json    = jsonencode(local.doc)
  back    = jsondecode(local.json)
  yaml    = yamlencode(local.doc)
  b64     = base64encode("hello")
  plain   = base64decode(local.b64)
  url     = urlencode("a b&c")
  hashes  = [md5("x"), sha1("x"), sha256("x"), sha512("x")]
  id      = uuidv5("dns", "example.com")
  subnet  = cidrsubnet("10.0.0.0/16", 8, 2)
  host    = cidrhost("10.0.2.0/24", 5)
  num     = parseint("ff", 16)
  numbers = [max(1, 5, 3), min(4, 2), ceil(1.2), floor(1.8), abs(-3), pow(2, 8), signum(-9)]
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo '${local.json}' ${local.back.name} ${local.plain} ${local.subnet} ${local.host} ${local.num}"]
  }
}
