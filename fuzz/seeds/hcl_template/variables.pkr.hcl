variable "name" {
  type = string
}

variable "sizes" {
  type    = list(number)
  default = [1, "2"]
}

variable "settings" {
  type = object({
    owner = string
    tags  = optional(map(string), {})
  })
  default = { owner = "ops" }
}

variable "secret" {
  type      = string
  default   = "hunter2"
  sensitive = true
}
