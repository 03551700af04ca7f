#!/usr/bin/env bash
# alicloud-ecs against the FAKE Alibaba Cloud API (fakes/alicloud), kiln and
# Debian's packer 1.6.6 in one run: one build whose image is copied to 20
# regions, against the floor the fake's delays impose, then 100 parallel
# builds (wall time, peak RSS of the process tree, leaks). See
# bench/alicloud_regions.py for what is measured and bench/README.md for
# the figures.
#
# Both tools run inside one private network and mount namespace
# (`unshare -mn`, as fakes/alicloud/fidelity/packer_build.sh does, sharing
# its setup through namespace.inc.sh): /etc/hosts sends Alibaba's endpoint
# host names to 127.0.0.1, where the fake listens on 80 and 443 (its CA in
# SSL_CERT_FILE, for packer), and a private sshd on 2222 plays every
# instance. kiln reaches the same fake through `custom_endpoint_ecs`.
#
# Usage: bench/alicloud-regions.sh [--time-scale F] [--builds N]
#          [--parallel-time-scale F] [--copies N] [--provision S]
#          [--skip-packer] [--keep]
#   --time-scale F  the fake's delays (realistic seconds: instance start 15,
#                   image 60, copy 120, ...) times F (0.3)
#   --builds N      parallel builds per tool (100; 0 skips that part)
#   --parallel-time-scale F  the time scale for the parallel builds (0.1)
#   --copies N      regions the image is copied to (20)
#   --provision S   realistic seconds the provisioner takes, times F (10)
#   --skip-packer   kiln alone
#   --keep          keep the work directory (templates, logs, fake's logs)
# Environment: KILN (default target/release/kiln; never built here),
#   PACKER (default packer), KILN_ALICLOUD_VENV (scripts/install-deps.sh).
# Exits 1 when a build fails or anything leaks.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
fake="$repo/fakes/alicloud/alicloud_fake.py"

if [ "${1:-}" != "--inside" ]; then
  scale=0.3 args=() skip=0 keep=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --time-scale) scale=$2; shift 2 ;;
      --builds|--copies|--provision|--parallel-time-scale) args+=("$1" "$2"); shift 2 ;;
      --skip-packer) skip=1; shift ;;
      --keep) keep=1; shift ;;
      *) sed -n '16,29p' "$0" >&2; exit 2 ;;
    esac
  done
  kiln="${KILN:-${CARGO_TARGET_DIR:-$repo/target}/release/kiln}"
  [ -x "$kiln" ] || { echo "error: no kiln binary at \`$kiln\`: run \`cargo build --release --bin kiln\` or set KILN" >&2; exit 1; }
  packer=""
  if [ "$skip" -eq 0 ]; then
    packer="${PACKER:-$(command -v packer || true)}"
    [ -x "$packer" ] || { echo "error: no packer: run scripts/install-deps.sh, set PACKER or pass --skip-packer" >&2; exit 1; }
    v=$(CHECKPOINT_DISABLE=1 "$packer" version | head -n1)
    case "$v" in *1.6.6*) ;; *) echo "bench: warning: expected Packer v1.6.6, \`$packer\` says: $v" >&2 ;; esac
    args+=(--packer "$(realpath "$packer")")
  fi
  [ "$(id -u)" -eq 0 ] || { echo "error: \`unshare -mn\` needs root" >&2; exit 1; }
  exec unshare -mn -- "$0" --inside "$scale" "$keep" --kiln "$(realpath "$kiln")" "${args[@]}"
fi
scale="$2" keep="$3"
shift 3

venv="${KILN_ALICLOUD_VENV:-$HOME/.cache/kiln/alicloud-venv}"
py="$venv/bin/python"
[ -x "$py" ] || py="$(command -v python3)"

work="$(mktemp -d /tmp/kiln-bench-alicloud.XXXXXX)"
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
# 100 builds log in at once: let sshd take them all. `SetEnv SHLVL=1`:
# bash reads ~/.bashrc in every command sshd runs unless it is a nested
# shell, and this machine's root ~/.bashrc runs `pyenv init` (100 builds
# then queue on pyenv's rehash lock for up to 60 s; see ssh-common.inc.sh).
alicloud_namespace_up "$scale" "MaxStartups 300
MaxSessions 300
SetEnv SHLVL=1"

export HOME="$work/home" PACKER_CACHE_DIR="$work/packer-cache"
mkdir -p "$HOME"
python3 "$here/alicloud_regions.py" --work "$work" --fake-pid "${pids[0]}" "$@"
