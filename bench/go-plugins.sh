#!/usr/bin/env bash
# Benchmark: 100 null builds (communicator `none`, one shell-local
# provisioner each) where the null builder is packer 1.6.6's own Go plugin
# (`packer plugin packer-builder-null`) driven through kiln's bridge
# (crates/kiln-plugin-go), against packer 1.6.6 running the same template
# itself, in one run. Both start one plugin process per build; the
# difference is the host. Prints both wall times and the packer/kiln ratio
# (target: kiln >= 5x faster), and checks that every build ran.
#   usage: bench/go-plugins.sh   (env: N=100 SKIP_PACKER=0 BRIDGE= PACKER=)
# BRIDGE is the bridge driver (the go-bridge-build example of
# kiln-plugin-go, built in release mode unless given).
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-100}
SKIP_PACKER=${SKIP_PACKER:-0}
PACKER=${PACKER:-/usr/bin/packer}
[ -x "$PACKER" ] || { echo "error: packer 1.6.6 is missing at $PACKER; run scripts/install-deps.sh" >&2; exit 1; }
if [ -z "${BRIDGE:-}" ]; then
  cargo build --release -q -p kiln-plugin-go --example go-bridge-build
  BRIDGE=${CARGO_TARGET_DIR:-$PWD/target}/release/examples/go-bridge-build
fi

work=$(mktemp -d /tmp/kiln-bench-go-plugins.XXXXXX)
trap 'rm -rf "$work"' EXIT

# template: N null builders named n001..nNNN, each touching a marker.
python3 - "$N" >"$work/t.json" <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps({
  "builders": [{"type": "null", "name": f"n{i:03}", "communicator": "none"} for i in range(1, n + 1)],
  "provisioners": [{"type": "shell-local", "inline": ["touch done-{{build_name}}"]}]}, indent=1))
PY

# run TOOL: one build of the template in a fresh dir; prints seconds.
run() {
  local tool=$1 dir=$work/$1 start end
  mkdir -p "$dir"
  cp "$work/t.json" "$dir/t.json"
  start=$(date +%s.%N)
  if [ "$tool" = kiln ]; then
    (cd "$dir" && CHECKPOINT_DISABLE=1 "$BRIDGE" -packer "$PACKER" t.json >"$dir/out.log" 2>&1) || {
      echo "error: kiln (bridge) build failed:" >&2; tail -20 "$dir/out.log" >&2; exit 1; }
  else
    (cd "$dir" && CHECKPOINT_DISABLE=1 "$PACKER" build -color=false t.json >"$dir/out.log" 2>&1) || {
      echo "error: packer build failed:" >&2; tail -20 "$dir/out.log" >&2; exit 1; }
  fi
  end=$(date +%s.%N)
  local made
  made=$(ls "$dir" | grep -c '^done-' || true)
  [ "$made" = "$N" ] || { echo "error: $tool ran $made of $N builds" >&2; exit 1; }
  python3 -c "print(f'{$end - $start:.3f}')"
}

kiln_s=$(run kiln)
echo "kiln (packer's null builder through the bridge), $N builds: $kiln_s s"
if [ "$SKIP_PACKER" = 1 ]; then exit 0; fi
packer_s=$(run packer)
echo "packer 1.6.6 (its own plugins),                  $N builds: $packer_s s"
python3 - "$kiln_s" "$packer_s" "$N" <<'PY'
import sys
k, p, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print()
print(f"== {n} null builds with packer's null builder plugin ==")
print(f"kiln    {k:8.3f} s")
print(f"packer  {p:8.3f} s")
print(f"ratio   {p / k:8.2f}x faster with kiln (target >= 5x)")
PY
