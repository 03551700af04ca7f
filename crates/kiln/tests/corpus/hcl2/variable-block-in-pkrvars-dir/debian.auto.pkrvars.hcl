# Follows chef/bento os_pkrvars (a variable block pasted into a pkrvars file).
variable "os_version" {
  default = "12"
}
