#!/usr/bin/env bash
# Runs Debian's packer 1.6.6 (its built-in tencentcloud-cvm builder) through
# a whole build against the FAKE Tencent Cloud API, to prove the fake is good
# enough for a real Tencent client (tencentcloud-sdk-go, TC3-HMAC-SHA256).
#
# Everything runs in a private network and mount namespace (`unshare -mn`),
# set up by ../../alicloud/fidelity/namespace.inc.sh (`fake_namespace_up`):
# only `lo` exists there, /etc/hosts sends Tencent's endpoint host names
# (`cvm.tencentcloudapi.com`, `vpc.tencentcloudapi.com`, ...) to 127.0.0.1,
# the fake listens on 80 and 443 (its CA in SSL_CERT_FILE), and a private
# sshd on 2222 plays the instance: its AuthorizedKeysCommand asks the fake
# for the public keys of the key pairs bound to running instances, so
# packer's temporary key pair is what lets it in.
#
# Usage: packer_build.sh OUTDIR
#   OUTDIR gets packer.log (PACKER_LOG=1), packer.out, requests.json,
#   resources.json, actions.txt (the normalised action sequence; compare
#   with packer-1.6.6-actions.txt) and fake.err.
# Environment: KILN_TENCENTCLOUD_VENV (the venv scripts/install-deps.sh
#   makes), KILN_TEST_PACKER (default /usr/bin/packer),
#   TENCENTCLOUD_FAKE_TIME_SCALE (default 0.01).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fake="$here/../tencentcloud_fake.py"

if [ "${1:-}" != "--inside" ]; then
  [ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
  mkdir -p "$1"
  out="$(cd "$1" && pwd)"
  exec unshare -mn -- "$0" --inside "$out"
fi
out="$2"

venv="${KILN_TENCENTCLOUD_VENV:-$HOME/.cache/kiln/tencentcloud-venv}"
py="$venv/bin/python"
packer="${KILN_TEST_PACKER:-/usr/bin/packer}"
[ -x "$py" ] || { echo "error: no venv python at \`$py\`: run scripts/install-deps.sh" >&2; exit 1; }
[ -x "$packer" ] || { echo "error: no packer at \`$packer\`: run scripts/install-deps.sh" >&2; exit 1; }

work="$(mktemp -d /tmp/kiln-tencentcloud-packer.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

. "$here/../../alicloud/fidelity/namespace.inc.sh"
export TENCENTCLOUD_FAKE_KEYS="AKIDpackerfidelity:packer-fidelity-secret"
fake_namespace_up "${TENCENTCLOUD_FAKE_TIME_SCALE:-0.01}"
export TENCENTCLOUD_SECRET_ID="AKIDpackerfidelity" TENCENTCLOUD_SECRET_KEY="packer-fidelity-secret"
unset TENCENTCLOUD_REGION TENCENTCLOUD_SECURITY_TOKEN

export CHECKPOINT_DISABLE=1 PACKER_LOG=1 PACKER_LOG_PATH="$out/packer.log"
export PACKER_CACHE_DIR="$work/packer-cache" HOME="$work/home"
mkdir -p "$HOME"
rc=0
(cd "$work" && "$packer" build -color=false "$here/packer-template.json") > "$out/packer.out" 2>&1 || rc=$?

fetch() { "$py" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"; }
fetch http://127.0.0.1:80/_fake/requests > "$out/requests.json"
fetch http://127.0.0.1:80/_fake/resources > "$out/resources.json"
"$py" "$here/../../alicloud/fidelity/normalize_actions.py" "$out/requests.json" > "$out/actions.txt"
echo "packer exited $rc"
exit "$rc"
