# Follows a user template converted by hand from JSON.

source "null" "a" {
  communicator: "none"
}

build {
  sources = ["source.null.a"]
}
