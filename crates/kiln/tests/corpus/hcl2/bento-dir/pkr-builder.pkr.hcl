# Follows chef/bento packer_templates (pkr-plugins.pkr.hcl, pkr-variables.pkr.hcl, pkr-sources.pkr.hcl, pkr-builder.pkr.hcl).

locals {
  scripts = var.os_name == "debian" || var.os_name == "ubuntu" ? [
    "${path.root}/scripts/${var.os_name}/update_${var.os_name}.sh",
    "${path.root}/scripts/${var.os_name}/cleanup_${var.os_name}.sh",
  ] : ["${path.root}/scripts/rhel/cleanup_dnf.sh"]
  nix_environment_vars = [
    "HOME_DIR=/home/vagrant",
    "http_proxy=${var.http_proxy}",
  ]
  nix_execute_command = "echo 'vagrant' | {{ .Vars }} sudo -S -E sh -eux '{{ .Path }}'"
  source_names        = [for source in var.sources_enabled : trimprefix(source, "source.")]
}

build {
  sources = var.sources_enabled

  provisioner "shell" {
    environment_vars  = local.nix_environment_vars
    execute_command   = local.nix_execute_command
    expect_disconnect = true
    pause_before      = "10s"
    scripts           = local.scripts
    except            = var.is_windows ? local.source_names : null
  }

  provisioner "shell" {
    inline      = ["echo 'After reboot'"]
    pause_after = "10s"
    except      = var.is_windows ? local.source_names : null
  }

  post-processor "checksum" {
    checksum_types = ["sha256"]
    output         = "${path.root}/../builds/${var.os_name}-${var.os_version}-${var.os_arch}.{{.ChecksumType}}"
    only           = ["qemu.vm"]
  }
}
