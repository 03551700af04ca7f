# Follows chef/bento packer_templates (inline scripts as heredocs).

source "file" "script" {
  target  = "script.sh"
  content = <<-EOF
    #!/bin/sh
    echo "generated"
  EOF
}

build {
  sources = ["source.file.script"]

  provisioner "shell-local" {
    inline = [<<EOT
echo first line
echo second line
EOT
    ]
  }
}
