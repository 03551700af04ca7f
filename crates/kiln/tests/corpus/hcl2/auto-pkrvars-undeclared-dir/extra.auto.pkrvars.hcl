# Follows chef/bento os_pkrvars (stale value).
os_name   = "fedora"
hyperv_generation = 2
