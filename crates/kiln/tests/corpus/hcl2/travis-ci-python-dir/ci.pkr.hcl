# Follows travis-ci/packer-templates ci-python.yml (as HCL2 after hcl2_upgrade, docker builder only).

variable "docker_repository" {
  type    = string
  default = "travisci/ci-python"
}

variable "travis_cookbooks_branch" {
  type    = string
  default = env("TRAVIS_COOKBOOKS_BRANCH")
}

locals {
  timestamp  = regex_replace(timestamp(), "[- TZ:]", "")
  docker_tag = "packer-${local.timestamp}"
  image_name = "travis-ci-python-${local.timestamp}"
}

source "docker" "docker" {
  image       = "ubuntu:22.04"
  commit      = true
  ssh_pty     = true
  run_command = ["-d", "-i", "-t", "--privileged=true", "{{ .Image }}", "/sbin/init"]
}

build {
  description = "Travis CI python build env template"
  sources     = ["source.docker.docker"]

  provisioner "shell" {
    inline = ["apt-get update -yqq && apt-get install sudo -yqq"]
    only   = ["docker.docker"]
  }

  provisioner "file" {
    source      = "${path.root}/tmp/git-meta"
    destination = "/var/tmp/git-meta"
  }

  provisioner "shell" {
    environment_vars = ["TRAVIS_COOKBOOKS_BRANCH=${var.travis_cookbooks_branch}"]
    execute_command  = "{{ .Vars }} exec sudo -E -S bash '{{ .Path }}'"
    scripts          = ["${path.root}/packer-scripts/packer-env-dump", "${path.root}/packer-scripts/cleanup"]
  }

  post-processors {
    post-processor "docker-tag" {
      repository = var.docker_repository
      tags       = [local.docker_tag]
      only       = ["docker.docker"]
    }
    post-processor "artifice" {
      files = ["tmp/docker-meta/.dumped"]
    }
    post-processor "shell-local" {
      environment_vars = ["DOCKER_DEST=${var.docker_repository}:${local.docker_tag}"]
      scripts          = ["${path.root}/bin/docker-push"]
    }
  }
}
