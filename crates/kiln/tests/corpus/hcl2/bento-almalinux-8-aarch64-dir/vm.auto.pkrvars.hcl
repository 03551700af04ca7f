# Follows chef/bento os_pkrvars/almalinux/almalinux-8-aarch64.pkrvars.hcl.
os_name      = "almalinux"
os_version   = "8.9"
os_arch      = "aarch64"
iso_url      = "https://repo.almalinux.org/almalinux/8.9/isos/aarch64/AlmaLinux-8.9-aarch64-boot.iso"
boot_command = ["<up><wait>e<wait><down><down><end> inst.text inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/rhel/8ks.cfg<F10><wait>"]
