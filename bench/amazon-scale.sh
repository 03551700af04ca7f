#!/usr/bin/env bash
# amazon-ebs at scale: 1,000 concurrent builds in one kiln process against
# one moto EC2 server (wall time, peak RSS, peak open files, requests per
# build, leaks counted through EC2's API), and packer 1.6.6 at 100 on the
# same server for the ratio. Options go to amazon_scale.py
# (`bench/amazon-scale.sh --help`); env: N=1000 PACKER_N=100 SKIP_PACKER=1
# KEEP=1 KILN=/path/to/kiln PACKER=/path/to/packer.
# Needs moto in the venv (./scripts/install-deps.sh).
set -euo pipefail
VENV=${KILN_MOTO_VENV:-$HOME/.cache/kiln/moto-venv}
[ -x "$VENV/bin/moto_server" ] || { echo "error: moto is not installed in $VENV; run scripts/install-deps.sh" >&2; exit 1; }
exec "$VENV/bin/python" "$(dirname "$0")/amazon_scale.py" "$@"
