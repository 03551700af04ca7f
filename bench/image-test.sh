#!/usr/bin/env bash
# The time the `test` post-processor adds to a qemu build, against the floor
# of doing the same by hand in the same run (issue 23, point 5; target:
# within 10% of the floor).
#
#   kiln   - `kiln build -events=json` of a qemu template (the base Debian
#            image, kernel + initrd, TCG, cpus 2) whose post-processor chain
#            is [test, manifest]; the test post-processor's time is from its
#            `post_processor` event to the manifest's (events are stamped in
#            milliseconds): overlay, boot, SSH, the checks, stop, cleanup
#   floor  - plain qemu on the disk kiln just built: `qemu-img create` an
#            overlay, boot it with the same machine, poll `ssh -o
#            ConnectTimeout=2` every 100 ms, run the same checks, stop qemu,
#            delete the overlay
#
# Usage: bench/image-test.sh [--runs N] [--keep]
#   --runs N  runs (2); each run builds once, then times both
#   --keep    keep the logs (the directory is printed)
# KILN=/path/to/kiln measures another binary (no build).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=2 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--runs N] [--keep]" >&2; exit 2 ;;
  esac
done

base=$(./scripts/make-base-image.sh | tail -n1)
image="$base/disk.qcow2" key="$base/id_ed25519" cmdline=$(cat "$base/cmdline")
if [ -z "${KILN:-}" ]; then
  cargo build --release --bin kiln >&2
  KILN="${CARGO_TARGET_DIR:-target}/release/kiln"
fi
KILN=$(realpath "$KILN")

work=$(mktemp -d /tmp/kiln-bench-image-test-XXXXXX)
if [ "$keep" -eq 1 ]; then echo "logs: $work" >&2; else trap 'rm -rf "$work"' EXIT; fi

check1='test "$(cat /root/marker)" = built'
check2='uname -a'
cat >"$work/template.json" <<EOF
{
  "builders": [{
    "type": "qemu", "iso_url": "$image", "iso_checksum": "none", "disk_image": true,
    "accelerator": "tcg", "headless": true, "memory": 512, "cpus": 2, "boot_wait": "0s",
    "qemuargs": [["-kernel", "$base/vmlinuz"], ["-initrd", "$base/initrd.img"], ["-append", "$cmdline"]],
    "output_directory": "out", "vm_name": "vm.qcow2", "format": "qcow2",
    "ssh_username": "root", "ssh_private_key_file": "$key", "ssh_timeout": "10m",
    "shutdown_command": "poweroff", "shutdown_timeout": "5m"
  }],
  "provisioners": [{"type": "shell", "inline": ["echo built > /root/marker", "sync"]}],
  "post-processors": [[
    {"type": "test", "checks": [
      {"name": "marker", "inline": [$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$check1")]},
      {"name": "booted", "inline": [$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$check2")]}
    ]},
    {"type": "manifest", "output": "manifest.json"}
  ]]
}
EOF

now() { date +%s.%N; }
# Seconds between the `post_processor` events of `test` and `manifest`.
test_time() {
  python3 - "$1" <<'PY'
import datetime, json, sys
t = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("type") == "post_processor":
        t[e["post_processor"]] = datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
print("%.3f" % (t["manifest"] - t["test"]).total_seconds())
PY
}

run_kiln() {
  local dir="$work/kiln"
  rm -rf "$dir"; mkdir -p "$dir"; cp "$work/template.json" "$dir/"
  (cd "$dir" && KILN_NO_LIVE=1 "$KILN" build -events=json template.json >"$dir/events.jsonl" 2>"$dir/stderr") || {
    echo "error: kiln build failed; last events:" >&2; tail -n 20 "$dir/events.jsonl" >&2; return 1; }
  R_kiln=$(test_time "$dir/events.jsonl")
}

run_floor() {
  local dir="$work/floor" start port pid
  rm -rf "$dir"; mkdir -p "$dir"
  start=$(now)
  qemu-img create -q -f qcow2 -b "$work/kiln/out/vm.qcow2" -F qcow2 "$dir/overlay.qcow2"
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  qemu-system-x86_64 -machine type=pc,accel=tcg -m 512M -smp cpus=2,sockets=2 -display none \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net,netdev=n0 \
    -drive "file=$dir/overlay.qcow2,if=virtio,cache=writeback,format=qcow2" \
    -kernel "$base/vmlinuz" -initrd "$base/initrd.img" -append "$cmdline" >/dev/null 2>&1 &
  pid=$!
  local ssh=(ssh -q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o ConnectTimeout=2 -i "$key" -p "$port" root@127.0.0.1)
  until "${ssh[@]}" true 2>/dev/null; do sleep 0.1; done
  "${ssh[@]}" "$check1" >>"$dir/log"
  "${ssh[@]}" "$check2" >>"$dir/log"
  kill "$pid"; wait "$pid" || true
  rm -f "$dir/overlay.qcow2"
  R_floor=$(echo "$(now) - $start" | bc)
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "kiln: $KILN"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
printf '%-4s | %-12s | %-12s | %s\n' "run" "kiln test" "floor" "kiln/floor"
ratios=() pass=0
for i in $(seq 1 "$runs"); do
  run_kiln
  run_floor
  r=$(echo "$R_kiln / $R_floor" | bc -l)
  ratios+=("$r")
  ok=$(echo "$r <= 1.10" | bc)
  pass=$((pass + ok))
  printf '%-4s | %10.1fs | %10.1fs | %.3f %s\n' "$i" "$R_kiln" "$R_floor" "$r" "$([ "$ok" = 1 ] && echo ok || echo MISS)"
done
printf 'median kiln/floor: %.3f\n' "$(median "${ratios[@]}")"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$pass" -eq "$runs" ]; then
  echo "verdict: PASS - the test post-processor within 1.10 x the floor in all $runs runs"
else
  echo "verdict: FAIL - the test post-processor within 1.10 x the floor in $pass of $runs runs"
  exit 1
fi
