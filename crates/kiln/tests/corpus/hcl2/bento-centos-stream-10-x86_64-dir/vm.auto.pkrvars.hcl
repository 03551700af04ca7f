# Follows chef/bento os_pkrvars/centos/centos-stream-10-x86_64.pkrvars.hcl.
os_name      = "centos-stream"
os_version   = "10"
os_arch      = "x86_64"
iso_url      = "https://mirror.stream.centos.org/10-stream/BaseOS/x86_64/iso/CentOS-Stream-10-latest-x86_64-boot.iso"
boot_command = ["<up><wait><tab> inst.text inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/rhel/10ks.cfg<enter><wait>"]
