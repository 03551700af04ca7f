#!/usr/bin/env bash
# ucloud-uhost against the FAKE UCloud API (fakes/ucloud): one build whose
# image is copied to 20 regions with `image_copy_to_mappings`, kiln's wall
# time against the floor the fake's waits impose (target: within 10%).
# Debian's packer 1.6.6 has no ucloud builder, so there is no packer column.
# See bench/ucloud_regions.py for what is measured, bench/README.md for the
# figures.
#
# A private sshd on a loopback port (bench/ssh-common.inc.sh) plays the
# UHost: the fake's EIPs are 127.0.0.1. Everything is on loopback; no
# namespace is needed (kiln reaches the fake through `base_url`).
#
# Usage: bench/ucloud-regions.sh [--time-scale F] [--copies N]
#          [--provision S] [--keep]
#   --time-scale F  the fake's delays (realistic seconds: UHost start 15,
#                   image 60, copy 120, ...) times F (0.1)
#   --copies N      regions the image is copied to (20)
#   --provision S   realistic seconds the provisioner takes, times F (10)
#   --keep          keep the work directory (template, logs)
# Environment: KILN (default target/release/kiln, built first unless
#   KILN_NO_BUILD is set, as the other ssh benches do).
# Exits 1 when the build fails, an image is missing or anything leaks.
set -euo pipefail
args=() keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --time-scale|--copies|--provision) args+=("$1" "$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    *) sed -n '13,22p' "$0" >&2; exit 2 ;;
  esac
done
. "$(dirname "${BASH_SOURCE[0]}")/ssh-common.inc.sh"
if [ "$keep" -eq 1 ]; then
  trap 'stop_sshd; echo "bench: kept $WORK" >&2' EXIT
fi
start_sshd
python3 "$ROOT/bench/ucloud_regions.py" --kiln "$KILN" --work "$WORK" \
  --ssh-port "$PORT" --ssh-user "$USER_NAME" --ssh-key "$WORK/id" "${args[@]}"
