# Follows chef/bento os_pkrvars/fedora/fedora-41-aarch64.pkrvars.hcl.
os_name      = "fedora"
os_version   = "41"
os_arch      = "aarch64"
iso_url      = "https://download.fedoraproject.org/pub/fedora/linux/releases/41/Server/aarch64/iso/Fedora-Server-netinst-aarch64-41-1.4.iso"
boot_command = ["<up>e<wait><down><down><end> inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/rhel/ks.cfg <F10><wait>"]
