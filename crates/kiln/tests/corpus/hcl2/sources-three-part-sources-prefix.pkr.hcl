# Follows a public box repo's build.pkr.hcl writing `sources.type.name`.

source "null" "a" {
  communicator = "none"
}

build {
  sources = ["sources.null.a"]
}
