#!/usr/bin/env bash
# A real qemu build, three ways in one run, on the base Debian image
# (scripts/make-base-image.sh, bootable partitioned variant):
#   kiln    - kiln build: disk_image base, shell provisioner, shutdown_command,
#             qcow2 output (compacted, as by default)
#   packer  - Debian's packer 1.6.6 on the same template
#   floor   - plain qemu: copy the image, boot, wait for SSH, run the same
#             commands over ssh, poweroff, wait for qemu to exit
# Prints the three wall times and the ratios kiln/packer and kiln/floor.
# Everything runs under TCG with `accelerator: tcg` spelled out: Packer
# 1.6.6 picks kvm whenever /dev/kvm exists, and KVM hangs here.
#
# Usage: bench/qemu-build.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=1
[ "${1:-}" = "--runs" ] && runs=${2:-1}

base=$(./scripts/make-base-image.sh | tail -n1)
image="$base/disk-boot.qcow2"
key="$base/id_ed25519"
if [ -z "${KILN:-}" ]; then
  cargo build --release --bin kiln >&2
  KILN="${CARGO_TARGET_DIR:-target}/release/kiln"
fi
KILN=$(realpath "$KILN")
command -v packer >/dev/null || { echo "error: packer is not installed (scripts/install-deps.sh)" >&2; exit 1; }

work=$(mktemp -d /tmp/kiln-bench-qemu-XXXXXX)
trap 'rm -rf "$work"' EXIT

commands='echo kiln-bench > /root/marker && uname -a && sync'
cat >"$work/template.json" <<EOF
{
  "builders": [{
    "type": "qemu",
    "iso_url": "$image", "iso_checksum": "none", "disk_image": true,
    "accelerator": "tcg", "headless": true, "memory": 512, "boot_wait": "0s",
    "output_directory": "out", "vm_name": "vm.qcow2", "format": "qcow2",
    "ssh_username": "root", "ssh_private_key_file": "$key", "ssh_timeout": "10m",
    "shutdown_command": "poweroff", "shutdown_timeout": "5m"
  }],
  "provisioners": [{"type": "shell", "inline": ["$commands"]}]
}
EOF

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

run_tool() { # tool binary
  local dir="$work/$1" start
  rm -rf "$dir"; mkdir -p "$dir"; cp "$work/template.json" "$dir/"
  start=$(now)
  (cd "$dir" && "$2" build -color=false template.json >"$dir/log" 2>&1) || {
    echo "error: $1 build failed; log:" >&2; tail -n 30 "$dir/log" >&2; return 1; }
  elapsed "$start"
}

run_floor() {
  local dir="$work/floor" start port pid
  rm -rf "$dir"; mkdir -p "$dir"
  start=$(now)
  cp "$image" "$dir/vm.qcow2"
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  qemu-system-x86_64 -machine type=pc,accel=tcg -m 512M -display none \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net,netdev=n0 \
    -drive "file=$dir/vm.qcow2,if=virtio,cache=writeback,format=qcow2" >/dev/null 2>&1 &
  pid=$!
  local ssh=(ssh -q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o ConnectTimeout=2 -i "$key" -p "$port" root@127.0.0.1)
  until "${ssh[@]}" true 2>/dev/null; do sleep 0.1; done
  "${ssh[@]}" "$commands" >/dev/null
  "${ssh[@]}" poweroff || true
  wait "$pid" || true
  elapsed "$start"
}

printf '%-6s %10s %10s %10s %12s %12s\n' run kiln packer floor kiln/packer kiln/floor
ks=() ps=() fs=()
for i in $(seq 1 "$runs"); do
  k=$(run_tool kiln "$KILN")
  p=$(run_tool packer packer)
  f=$(run_floor)
  ks+=("$k") ps+=("$p") fs+=("$f")
  printf '%-6s %9.1fs %9.1fs %9.1fs %12.3f %12.3f\n' "$i" "$k" "$p" "$f" \
    "$(echo "$k / $p" | bc -l)" "$(echo "$k / $f" | bc -l)"
done

# With several runs, the medians: the machine's noise (other processes, TCG
# timing) moves single runs by seconds, the median much less.
if [ "$runs" -gt 1 ]; then
  median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
  k=$(median "${ks[@]}") p=$(median "${ps[@]}") f=$(median "${fs[@]}")
  printf '%-6s %9.1fs %9.1fs %9.1fs %12.3f %12.3f\n' median "$k" "$p" "$f" \
    "$(echo "$k / $p" | bc -l)" "$(echo "$k / $f" | bc -l)"
  # The three builds of a run follow each other, so they share the load of
  # their moment: the median of the per-run ratios is the steadier figure.
  kp=() kf=()
  for j in "${!ks[@]}"; do
    kp+=("$(echo "${ks[$j]} / ${ps[$j]}" | bc -l)") kf+=("$(echo "${ks[$j]} / ${fs[$j]}" | bc -l)")
  done
  printf '%-38s %12.3f %12.3f\n' "median of the per-run ratios" "$(median "${kp[@]}")" "$(median "${kf[@]}")"
  echo "targets: kiln/packer <= 1.000 (no slower than packer), kiln/floor <= 1.050 (within 5% of the floor)"
fi
