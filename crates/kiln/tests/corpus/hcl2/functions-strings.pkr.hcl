# Follows hashicorp/packer hcl2template/function (function library).

locals {
  name      = "web server"
  upper     = upper(local.name)
  title     = title(local.name)
  dashed    = replace(local.name, " ", "-")
  cleaned   = regex_replace("Web Server #1", "[^a-zA-Z0-9-]", "")
  parts     = split(" ", local.name)
  joined    = join("_", local.parts)
  formatted = format("%s-%03d", local.dashed, 7)
  listed    = formatlist("item-%s", ["a", "b"])
  trimmed   = trimsuffix(trimprefix("source.null.a", "source."), ".a")
  sub       = substr("abcdef", 1, 3)
  chomped   = chomp("line\n")
  indented  = indent(2, "a\nb")
  n         = length(local.parts)
  all       = distinct(sort(concat(["b", "a"], flatten([["a"], ["c"]]))))
  rev       = reverse(local.all)
  sliced    = slice(local.all, 0, 2)
  m         = merge({ a = 1 }, { b = 2 })
  ks        = keys(local.m)
  vs        = values(local.m)
  looked    = lookup(local.m, "c", 3)
  zipped    = zipmap(["x", "y"], [1, 2])
  has_a     = contains(local.all, "a")
  second    = element(local.all, 1)
  pos       = index(local.all, "c")
  first_set = coalesce("", "fallback")
  compacted = compact(["a", "", "b"])
  seq       = range(3)
  lowered   = lower("ABC")
}

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["source.null.a"]

  provisioner "shell-local" {
    inline = ["echo ${local.upper} ${local.formatted} ${local.joined} ${local.second} ${local.pos} ${local.looked}"]
  }
}
