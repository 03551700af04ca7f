# Follows chef/bento os_pkrvars/debian/debian-12-x86_64.pkrvars.hcl.
os_name      = "debian"
os_version   = "12.5"
os_arch      = "x86_64"
iso_url      = "https://cdimage.debian.org/cdimage/archive/12.5.0/amd64/iso-cd/debian-12.5.0-amd64-netinst.iso"
iso_checksum = "file:https://cdimage.debian.org/cdimage/archive/12.5.0/amd64/iso-cd/SHA256SUMS"
boot_command = ["<wait><esc><wait>auto preseed/url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/debian/preseed.cfg netcfg/get_hostname={{ .Name }}<enter>"]
