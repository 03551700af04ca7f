#!/usr/bin/env bash
# Runs Debian's packer 1.6.6 (its built-in alicloud-import post-processor,
# after a `file` build writing a small disk image) against the FAKE Alibaba
# Cloud API, to record the calls packer makes for the template kiln's
# crates/kiln/tests/cli/alicloud_import.rs runs.
#
# As packer_build.sh: a private network and mount namespace (`unshare
# -mn`), /etc/hosts bind-mounted to send Alibaba's endpoint host names (and
# the bucket's virtual host, `kiln-import-test.oss-cn-hangzhou.aliyuncs.com`)
# to 127.0.0.1, the fake on 80 and 443 with its CA in SSL_CERT_FILE.
#
# Usage: packer_import.sh OUTDIR [--no-import-role]
#   OUTDIR gets packer.out, packer.log, requests.json, resources.json and
#   actions.txt (normalised; compare with packer-1.6.6-import-actions.txt,
#   or packer-1.6.6-import-role-actions.txt with --no-import-role, where
#   packer sleeps a minute after creating the role).
# Environment: KILN_ALICLOUD_VENV, KILN_TEST_PACKER, ALICLOUD_FAKE_TIME_SCALE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fake="$here/../alicloud_fake.py"

if [ "${1:-}" != "--inside" ]; then
  [ $# -ge 1 ] || { echo "usage: $0 OUTDIR [--no-import-role]" >&2; exit 2; }
  mkdir -p "$1"
  out="$(cd "$1" && pwd)"
  shift
  exec unshare -mn -- "$0" --inside "$out" "$@"
fi
out="$2"
role_flag="${3:-}"

venv="${KILN_ALICLOUD_VENV:-$HOME/.cache/kiln/alicloud-venv}"
py="$venv/bin/python"
packer="${KILN_TEST_PACKER:-/usr/bin/packer}"
[ -x "$py" ] || { echo "error: no venv python at \`$py\`: run scripts/install-deps.sh" >&2; exit 1; }
[ -x "$packer" ] || { echo "error: no packer at \`$packer\`: run scripts/install-deps.sh" >&2; exit 1; }

ip link set lo up
work="$(mktemp -d /tmp/kiln-alicloud-import.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

{ echo "127.0.0.1 localhost"; "$py" "$fake" hosts; echo "127.0.0.1 kiln-import-test.oss-cn-hangzhou.aliyuncs.com"; } > "$work/hosts"
mount --bind "$work/hosts" /etc/hosts

export ALICLOUD_FAKE_KEYS="LTAIfakeaccesskey:packer-fidelity-secret"
args=(--http-port 80 --https-port 443 --state-dir "$work/fake" --port-file "$work/ports.json"
      --time-scale "${ALICLOUD_FAKE_TIME_SCALE:-0.01}")
[ "$role_flag" = "--no-import-role" ] && args+=(--no-import-role)
"$py" "$fake" "${args[@]}" > "$out/fake.out" 2> "$out/fake.err" &
pids+=($!)
for _ in $(seq 1 200); do [ -s "$work/ports.json" ] && break; sleep 0.05; done
[ -s "$work/ports.json" ] || { echo "error: the fake did not start" >&2; cat "$out/fake.err" >&2; exit 1; }

export SSL_CERT_FILE="$work/fake/ca.pem"
export ALICLOUD_ACCESS_KEY="LTAIfakeaccesskey" ALICLOUD_SECRET_KEY="packer-fidelity-secret"
export CHECKPOINT_DISABLE=1 PACKER_LOG=1 PACKER_LOG_PATH="$out/packer.log"
export PACKER_CACHE_DIR="$work/packer-cache" HOME="$work/home"
mkdir -p "$HOME"
unset ALICLOUD_REGION SECURITY_TOKEN
rc=0
(cd "$work" && "$packer" build -color=false "$here/packer-import-template.json") > "$out/packer.out" 2>&1 || rc=$?

fetch() { "$py" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"; }
fetch http://127.0.0.1:80/_fake/requests > "$out/requests.json"
fetch http://127.0.0.1:80/_fake/resources > "$out/resources.json"
"$py" "$here/normalize_actions.py" "$out/requests.json" > "$out/actions.txt"
echo "packer exited $rc"
exit "$rc"
