# Follows chef/bento packer_templates (pkr-variables, pkr-sources, pkr-builder).

locals {
  scripts = [for s in ["rhel/cleanup_dnf.sh"] : "${path.root}/scripts/${s}"]
  source_names = [for source in var.sources_enabled : trimprefix(source, "source.")]
}

build {
  sources = var.sources_enabled

  provisioner "shell" {
    environment_vars  = ["HOME_DIR=/home/vagrant"]
    execute_command   = "echo 'vagrant' | {{ .Vars }} sudo -S -E sh -eux '{{ .Path }}'"
    expect_disconnect = true
    scripts           = local.scripts
    except            = var.is_windows ? local.source_names : null
  }

  post-processor "manifest" {
    output = "${path.root}/../builds/${local.vm_name}-manifest.json"
  }
}
