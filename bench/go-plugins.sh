#!/usr/bin/env bash
# Benchmark: 100 null builds (communicator `none`, one shell-local
# provisioner each) whose builder is packer 1.6.6's own null builder as an
# external Go plugin, run by `kiln build` (through its Go bridge,
# crates/kiln-plugin-go) and by packer 1.6.6 itself, on the same template
# in one run. The plugin is `packer-builder-gonull` in the template's
# directory, a two-line wrapper that execs `packer plugin
# packer-builder-null`; both tools discover it there, as Packer 1.6.6 does
# its plugins, and both start one plugin process per build. The
# difference is the host. Prints both wall times and the packer/kiln ratio
# (target: kiln >= 5x faster), and checks that every build ran. Where the
# cgroup v1 cpuacct controller is writable (root), it also prints the CPU
# time of each tool's whole process tree, plugins included, and the
# plugins' own floor: N plugin processes started to their handshake and
# stopped, with no host work at all.
#   usage: bench/go-plugins.sh   (env: N=100 SKIP_PACKER=0 KILN= PACKER=)
# KILN is the kiln binary, built in release mode unless given.
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-100}
SKIP_PACKER=${SKIP_PACKER:-0}
PACKER=${PACKER:-/usr/bin/packer}
[ -x "$PACKER" ] || { echo "error: packer 1.6.6 is missing at $PACKER; run scripts/install-deps.sh" >&2; exit 1; }
if [ -z "${KILN:-}" ]; then
  cargo build --release -q --bin kiln
  KILN=${CARGO_TARGET_DIR:-$PWD/target}/release/kiln
fi
KILN=$(realpath "$KILN")

work=$(mktemp -d /tmp/kiln-bench-go-plugins.XXXXXX)
cg=/sys/fs/cgroup/cpuacct/kiln-bench-go-plugins-$$
mkdir "$cg" 2>/dev/null || cg=
trap 'rm -rf "$work"; [ -z "$cg" ] || rmdir "$cg" 2>/dev/null || true' EXIT

# in_cg CMD...: runs CMD inside the accounting cgroup (when there is one).
in_cg() {
  if [ -n "$cg" ]; then
    echo 0 >"$cg/cpuacct.usage"
    sh -c 'echo $$ >"$0/cgroup.procs"; exec "$@"' "$cg" "$@"
  else
    "$@"
  fi
}
# cg_cpu: CPU seconds used in the cgroup since in_cg reset it, once every
# process in it has exited (plugins outlive their host by a moment).
cg_cpu() {
  [ -n "$cg" ] || { echo "n/a"; return; }
  for _ in $(seq 100); do [ -z "$(cat "$cg/cgroup.procs")" ] && break; sleep 0.05; done
  python3 -c "print(f'{$(cat "$cg/cpuacct.usage") / 1e9:.2f}')"
}

# template: N `gonull` builders named n001..nNNN, each touching a marker.
python3 - "$N" >"$work/t.json" <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps({
  "builders": [{"type": "gonull", "name": f"n{i:03}", "communicator": "none"} for i in range(1, n + 1)],
  "provisioners": [{"type": "shell-local", "inline": ["touch done-{{build_name}}"]}]}, indent=1))
PY
printf '#!/bin/sh\nexec %s plugin packer-builder-null\n' "$PACKER" >"$work/packer-builder-gonull"
chmod +x "$work/packer-builder-gonull"

# run TOOL: one build of the template in a fresh dir; prints seconds.
run() {
  local tool=$1 dir=$work/$1 start end
  mkdir -p "$dir"
  cp "$work/t.json" "$work/packer-builder-gonull" "$dir/"
  start=$(date +%s.%N)
  if [ "$tool" = kiln ]; then
    (cd "$dir" && CHECKPOINT_DISABLE=1 in_cg "$KILN" build -color=false t.json >"$dir/out.log" 2>&1) || {
      echo "error: kiln build failed:" >&2; tail -20 "$dir/out.log" >&2; exit 1; }
  else
    (cd "$dir" && CHECKPOINT_DISABLE=1 in_cg "$PACKER" build -color=false t.json >"$dir/out.log" 2>&1) || {
      echo "error: packer build failed:" >&2; tail -20 "$dir/out.log" >&2; exit 1; }
  fi
  end=$(date +%s.%N)
  local made
  made=$(ls "$dir" | grep -c '^done-' || true)
  [ "$made" = "$N" ] || { echo "error: $tool ran $made of $N builds" >&2; exit 1; }
  echo "$(python3 -c "print(f'{$end - $start:.3f}')") $(cg_cpu)"
}

# floor: the plugins alone. N plugin processes started at once through the
# same wrapper, each read up to its handshake line and then stopped, as a
# host that did nothing else would; prints wall seconds and CPU seconds.
floor() {
  local start end
  start=$(date +%s.%N)
  in_cg python3 - "$N" "$work/packer-builder-gonull" <<'PY'
import os, subprocess, sys
n, plugin = int(sys.argv[1]), sys.argv[2]
env = dict(os.environ, CHECKPOINT_DISABLE="1", PACKER_PLUGIN_MIN_PORT="10000", PACKER_PLUGIN_MAX_PORT="25000",
           PACKER_PLUGIN_MAGIC_COOKIE="d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2")
ps = [subprocess.Popen([plugin], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env) for _ in range(n)]
for p in ps:
    assert p.stdout.readline().startswith(b"5|"), "no handshake"
for p in ps:
    p.terminate()
for p in ps:
    p.wait()
PY
  end=$(date +%s.%N)
  echo "$(python3 -c "print(f'{$end - $start:.3f}')") $(cg_cpu)"
}

read -r kiln_s kiln_cpu <<<"$(run kiln)"
echo "kiln (packer's null builder plugin), $N builds: $kiln_s s (cpu $kiln_cpu s)"
if [ "$SKIP_PACKER" = 1 ]; then exit 0; fi
read -r packer_s packer_cpu <<<"$(run packer)"
echo "packer 1.6.6 (the same plugin),      $N builds: $packer_s s (cpu $packer_cpu s)"
read -r floor_s floor_cpu <<<"$(floor)"
echo "floor: $N plugin processes to their handshake: $floor_s s (cpu $floor_cpu s)"
python3 - "$kiln_s" "$packer_s" "$N" "$kiln_cpu" "$packer_cpu" "$floor_s" "$floor_cpu" <<'PY'
import sys
k, p, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
kc, pc, fs, fc = sys.argv[4:8]
print()
print(f"== {n} null builds with packer's null builder plugin ==")
print(f"{'':8} {'wall':>9} {'cpu (tree)':>11}")
print(f"{'kiln':8} {k:8.3f}s {kc:>10}s")
print(f"{'packer':8} {p:8.3f}s {pc:>10}s")
print(f"{'floor':8} {float(fs):8.3f}s {fc:>10}s   ({n} plugin processes started and stopped, no host)")
print(f"ratio   {p / k:8.2f}x faster with kiln (target >= 5x)")
if fc != "n/a":
    print(f"best ratio the plugins allow: packer wall / floor wall = {p / float(fs):.2f}x")
PY
