# Follows chef/bento os_pkrvars/rockylinux/rockylinux-9-x86_64.pkrvars.hcl.
os_name      = "rockylinux"
os_version   = "9.1"
os_arch      = "x86_64"
iso_url      = "https://download.rockylinux.org/pub/rocky/9.1/isos/x86_64/Rocky-9.1-x86_64-dvd.iso"
boot_command = ["<up><wait><tab> inst.text inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/rhel/9ks.cfg<enter><wait>"]
