# Follows chef/bento os_pkrvars/opensuse/opensuse-leap-15-x86_64.pkrvars.hcl.
os_name      = "opensuse-leap"
os_version   = "15.5"
os_arch      = "x86_64"
iso_url      = "https://download.opensuse.org/distribution/leap/15.5/iso/openSUSE-Leap-15.5-NET-x86_64-Media.iso"
boot_command = ["<esc><enter><wait>linux netdevice=eth0 autoyast=http://{{ .HTTPIP }}:{{ .HTTPPort }}/suse/autoinst.xml<enter>"]
