# Follows chef/bento os_pkrvars/almalinux/almalinux-9-x86_64.pkrvars.hcl.
os_name      = "almalinux"
os_version   = "9.3"
os_arch      = "x86_64"
iso_url      = "https://repo.almalinux.org/almalinux/9.3/isos/x86_64/AlmaLinux-9.3-x86_64-boot.iso"
boot_command = ["<up><wait><tab> inst.text inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/rhel/9ks.cfg<enter><wait>"]
