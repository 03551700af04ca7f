# Follows chef/bento os_pkrvars/oraclelinux/oraclelinux-9-x86_64.pkrvars.hcl.
os_name      = "oraclelinux"
os_version   = "9.3"
os_arch      = "x86_64"
iso_url      = "https://yum.oracle.com/ISOS/OracleLinux/OL9/u3/x86_64/OracleLinux-R9-U3-x86_64-boot.iso"
boot_command = ["<up><wait><tab> inst.text inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/rhel/9ks.cfg<enter><wait>"]
