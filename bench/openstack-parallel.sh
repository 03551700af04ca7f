#!/usr/bin/env bash
# openstack against the REAL test OpenStack (scripts/openstack.sh: Keystone,
# Glance, Placement, Nova with the fake compute driver, Neutron): N parallel
# builds (20, `communicator: none`), kiln and Debian's packer 1.6.6 on the
# same cloud, one after the other: wall time, peak memory of each tool's
# process tree, API requests the cloud served per build, and leaks. See
# bench/openstack_parallel.py for what is measured.
#
# Usage: bench/openstack-parallel.sh [--builds N] [--skip-packer] [--keep]
# Environment: KILN (default target/release/kiln, built when stale),
#   PACKER (default packer). Starts the cloud if it is not up (and leaves
#   it up). Exits 1 when a build fails or anything leaks.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
"$repo/scripts/openstack.sh" start >/dev/null
# Debian's python3: it has openstacksdk (a pyenv python on PATH may not).
exec /usr/bin/python3 "$here/openstack_parallel.py" \
  --admin-env "$("$repo/scripts/openstack.sh" env | tr '\n' ' ')" \
  --user-env "$("$repo/scripts/openstack.sh" env kiln | tr '\n' ' ')" "$@"
