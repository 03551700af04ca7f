# Follows chef/bento os_pkrvars/ubuntu/ubuntu-24.04-aarch64.pkrvars.hcl.
os_name      = "ubuntu"
os_version   = "24.04"
os_arch      = "aarch64"
iso_url      = "https://cdimage.ubuntu.com/releases/24.04/release/ubuntu-24.04-live-server-arm64.iso"
boot_command = ["<wait>e<wait><down><down><down><end> autoinstall ds=nocloud-net\\;s=http://{{.HTTPIP}}:{{.HTTPPort}}/ubuntu/<f10><wait>"]
