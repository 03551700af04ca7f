variable "n" {
  type    = number
  default = "5"
}
locals {
  a = try(var.m.x, "${var.n + 1}")
  b = [for i, v in ["1", "2"] : v * i if v > 0]
  c = can(regex("^a", "abc")) ? cidrsubnet("10.0.0.0/16", 8, 2) : "x"
  d = { for k, v in { a = 1 } : upper(k) => v }
  e = "%{ for x in local.b }${x},%{ endfor }"
}
