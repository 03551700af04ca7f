# Follows chef/bento os_pkrvars/debian/debian-11-aarch64.pkrvars.hcl.
os_name      = "debian"
os_version   = "11.9"
os_arch      = "aarch64"
iso_url      = "https://cdimage.debian.org/cdimage/archive/11.9.0/arm64/iso-cd/debian-11.9.0-arm64-netinst.iso"
boot_command = ["<wait><up>e<wait><down><down><down><end> auto=true preseed/url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/debian/preseed.cfg<f10>"]
