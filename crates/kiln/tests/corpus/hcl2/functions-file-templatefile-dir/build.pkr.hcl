# Follows hashicorp/packer hcl2template/function (function library).

locals {
  motd     = file("${path.root}/files/motd.txt")
  userdata = templatefile("${path.root}/files/user-data.pkrtpl.hcl", { hostname = "web01", users = ["ann", "bob"] })
  has_key  = fileexists("${path.root}/files/missing.pub")
  all      = fileset(path.root, "files/*.txt")
  where    = abspath(path.root)
  base     = basename("${path.root}/files/motd.txt")
  dir      = dirname("files/motd.txt")
}

source "file" "userdata" {
  content = local.userdata
  target  = "user-data"
}

build {
  sources = ["source.file.userdata"]

  provisioner "shell-local" {
    inline = ["echo '${local.motd}' ${local.has_key} ${join(",", local.all)} ${local.base} ${local.dir}"]
  }
}
