# Follows hashicorp/packer command/test-fixtures/hcl/empty_object/setting.auto.pkrvars.hcl.
lines = ["first line"]
names = { target = "out" }
