# Follows chef/bento os_pkrvars/rockylinux/rockylinux-8-x86_64.pkrvars.hcl.
os_name      = "rockylinux"
os_version   = "8.9"
os_arch      = "x86_64"
iso_url      = "https://download.rockylinux.org/pub/rocky/8.9/isos/x86_64/Rocky-8.9-x86_64-boot.iso"
boot_command = ["<up><wait><tab> inst.text inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/rhel/8ks.cfg<enter><wait>"]
