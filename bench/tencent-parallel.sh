#!/usr/bin/env bash
# tencentcloud-cvm against the FAKE Tencent Cloud API (fakes/tencentcloud):
# N parallel builds (100), kiln and Debian's packer 1.6.6 on the same fake,
# wall time and peak memory of each tool's process tree, and leaks. See
# bench/tencent_parallel.py for what is measured.
#
# Both tools run inside one private network and mount namespace
# (`unshare -mn`, set up by fakes/alicloud/fidelity/namespace.inc.sh's
# `fake_namespace_up`, as fakes/tencentcloud/fidelity/packer_build.sh
# does): /etc/hosts sends Tencent's endpoint host names to 127.0.0.1, where
# the fake listens on 80 and 443 (its CA in SSL_CERT_FILE, for packer);
# kiln reaches it over plain HTTP through KILN_TENCENTCLOUD_ENDPOINT.
#
# Usage: bench/tencent-parallel.sh [--time-scale F] [--builds N]
#          [--skip-packer] [--keep]
#   --time-scale F  the fake's delays (realistic seconds: instance 10,
#                   image 60, ...) times F (0.1)
#   --builds N      parallel builds per tool (100)
#   --skip-packer   kiln alone
#   --keep          keep the work directory (templates, logs, fake's logs)
# Environment: KILN (default target/release/kiln; never built here),
#   PACKER (default packer), KILN_TENCENTCLOUD_VENV (scripts/install-deps.sh).
# Exits 1 when a build fails or anything leaks.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
fake="$repo/fakes/tencentcloud/tencentcloud_fake.py"

if [ "${1:-}" != "--inside" ]; then
  scale=0.1 args=() skip=0 keep=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --time-scale) scale=$2; shift 2 ;;
      --builds) args+=("$1" "$2"); shift 2 ;;
      --skip-packer) skip=1; shift ;;
      --keep) keep=1; shift ;;
      *) sed -n '14,22p' "$0" >&2; exit 2 ;;
    esac
  done
  kiln="${KILN:-${CARGO_TARGET_DIR:-$repo/target}/release/kiln}"
  [ -x "$kiln" ] || { echo "error: no kiln binary at \`$kiln\`: run \`cargo build --release --bin kiln\` or set KILN" >&2; exit 1; }
  if [ "$skip" -eq 0 ]; then
    packer="${PACKER:-$(command -v packer || true)}"
    [ -x "$packer" ] || { echo "error: no packer: run scripts/install-deps.sh, set PACKER or pass --skip-packer" >&2; exit 1; }
    args+=(--packer "$(realpath "$packer")")
  fi
  [ "$(id -u)" -eq 0 ] || { echo "error: \`unshare -mn\` needs root" >&2; exit 1; }
  exec unshare -mn -- "$0" --inside "$scale" "$keep" --kiln "$(realpath "$kiln")" "${args[@]}"
fi
scale="$2" keep="$3"
shift 3

venv="${KILN_TENCENTCLOUD_VENV:-$HOME/.cache/kiln/tencentcloud-venv}"
py="$venv/bin/python"
[ -x "$py" ] || py="$(command -v python3)"

work="$(mktemp -d /tmp/kiln-bench-tencentcloud.XXXXXX)"
out="$work/logs"
mkdir -p "$out"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$keep" -eq 1 ]; then echo "bench: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

. "$repo/fakes/alicloud/fidelity/namespace.inc.sh"
export TENCENTCLOUD_FAKE_KEYS="AKIDbench:bench-secret"
fake_namespace_up "$scale"
export TENCENTCLOUD_SECRET_ID="AKIDbench" TENCENTCLOUD_SECRET_KEY="bench-secret"
unset TENCENTCLOUD_REGION TENCENTCLOUD_SECURITY_TOKEN

export HOME="$work/home" PACKER_CACHE_DIR="$work/packer-cache"
mkdir -p "$HOME"
python3 "$here/tencent_parallel.py" --work "$work" --fake-pid "${pids[0]}" --sshd-pid "${pids[1]}" "$@"
