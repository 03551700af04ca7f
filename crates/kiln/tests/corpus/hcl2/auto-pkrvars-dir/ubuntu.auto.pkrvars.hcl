# Follows chef/bento os_pkrvars/ubuntu/ubuntu-24.04-x86_64.pkrvars.hcl.
os_name    = "ubuntu"
os_version = "24.04"
