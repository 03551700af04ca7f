# Follows chef/bento os_pkrvars/fedora/fedora-40-x86_64.pkrvars.hcl.
os_name      = "fedora"
os_version   = "40"
os_arch      = "x86_64"
iso_url      = "https://download.fedoraproject.org/pub/fedora/linux/releases/40/Server/x86_64/iso/Fedora-Server-netinst-x86_64-40-1.14.iso"
boot_command = ["<up>e<wait><down><down><end> inst.text inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/rhel/ks.cfg<F10><wait>"]
