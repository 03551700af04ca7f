# Follows chef/bento os_pkrvars.
boot_command = "<enter>"
