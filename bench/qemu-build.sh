#!/usr/bin/env bash
# Boot to SSH with qemu, three ways, interleaved (kiln, packer, floor in
# every run, N runs), on the issue's template: the base Debian image
# (scripts/make-base-image.sh) booted with -kernel/-initrd, TCG, cpus 2.
#   kiln    - kiln build: disk_image, shell provisioner, shutdown_command,
#             qcow2 output (compacted, as by default)
#   packer  - Debian's packer 1.6.6 on the same template
#   floor   - plain qemu with the same machine: copy the image, boot, poll
#             `ssh -o ConnectTimeout=2` every 100 ms, run the same commands,
#             poweroff, wait for qemu to exit
#
# Measured per tool and run:
#   boot->ssh  host time from QEMU's exec (a `qemu_binary` wrapper logs it)
#              to "Connected to SSH!" (kiln, packer; each output line is
#              time-stamped as it arrives) or to the first `ssh true` that
#              succeeds (floor): the issue's figure
#   build      the whole build's wall time
#   sshd up    guest uptime when sshd listened (journal, monotonic): how
#              fast the guest booted
#   accept     guest time from sshd listening to the first accepted login:
#              how soon the tool got in once it could
#   stray      connections sshd accepted and the client closed before
#              logging in (`[preauth]`): each costs the guest an sshd
#              fork and exec while the real login is being made
# The verdict is the issue's criterion on boot->ssh: in every run, kiln no
# slower than packer and within 5% of the floor.
# Everything runs under TCG with `accelerator: tcg` spelled out: Packer
# 1.6.6 picks kvm whenever /dev/kvm exists, and KVM hangs here.
#
# Usage: bench/qemu-build.sh [--runs N] [--keep]
#   --runs N  interleaved runs (3)
#   --keep    keep the logs (the directory is printed)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 keep=0
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
command -v packer >/dev/null || { echo "error: packer is not installed (scripts/install-deps.sh)" >&2; exit 1; }

work=$(mktemp -d /tmp/kiln-bench-qemu-XXXXXX)
if [ "$keep" -eq 1 ]; then echo "logs: $work" >&2; else trap 'rm -rf "$work"' EXIT; fi

# QEMU through a wrapper that logs when it was started, and with what.
cat >"$work/qemu" <<'EOF'
#!/bin/sh
echo "$(date +%s.%N) $*" >>"${QEMU_STAMPS:?}"
exec qemu-system-x86_64 "$@"
EOF
chmod +x "$work/qemu"

commands='echo kiln-bench > /root/marker && uname -a && sync'
profile="cat /proc/uptime; journalctl -b -o short-monotonic --no-pager _COMM=sshd | grep -E 'Server listening|Accepted' | head -n 3; echo stray \$(journalctl -b --no-pager _COMM=sshd | grep -c preauth)"
cat >"$work/template.json" <<EOF
{
  "builders": [{
    "type": "qemu", "qemu_binary": "$work/qemu",
    "iso_url": "$image", "iso_checksum": "none", "disk_image": true,
    "accelerator": "tcg", "headless": true, "memory": 512, "cpus": 2, "boot_wait": "0s",
    "qemuargs": [["-kernel", "$base/vmlinuz"], ["-initrd", "$base/initrd.img"], ["-append", "$cmdline"]],
    "output_directory": "out", "vm_name": "vm.qcow2", "format": "qcow2",
    "ssh_username": "root", "ssh_private_key_file": "$key", "ssh_timeout": "10m",
    "shutdown_command": "poweroff", "shutdown_timeout": "5m"
  }],
  "provisioners": [{"type": "shell", "inline": ["$commands", "$profile"]}]
}
EOF

now() { date +%s.%N; }
# Prefixes each line with the time it arrived.
stamp() { python3 -u -c 'import sys,time
for l in sys.stdin: sys.stdout.write("%.3f %s" % (time.time(), l))'; }
# The time of the first line of a stamped log matching a pattern.
first_at() { grep -m1 -E "$2" "$1" | cut -d' ' -f1; }
# Guest monotonic seconds of the first journal line matching a pattern.
guest_at() { grep -m1 -E "$2" "$1" | grep -oE '\[ *[0-9]+\.[0-9]+\]' | tr -d '[] '; }
qemu_at() { grep -m1 -- '-netdev' "$1" | cut -d' ' -f1; }

# Sets R_total, R_ssh, R_up, R_accept, R_stray for one tool's run in $dir.
results() { # dir connected-time start-time
  local dir=$1 up accepted
  R_ssh=$(echo "$2 - $(qemu_at "$dir/qemu.stamps")" | bc)
  R_total=$(echo "$(now) - $3" | bc)
  up=$(guest_at "$dir/log" 'Server listening') accepted=$(guest_at "$dir/log" 'Accepted')
  R_up=$up R_accept=$(echo "$accepted - $up" | bc)
  R_stray=$(grep -m1 -oE 'stray [0-9]+' "$dir/log" | cut -d' ' -f2)
}

run_tool() { # tool binary
  local dir="$work/$1" start
  rm -rf "$dir"; mkdir -p "$dir"; cp "$work/template.json" "$dir/"
  start=$(now)
  (cd "$dir" && QEMU_STAMPS="$dir/qemu.stamps" "$2" build -color=false template.json 2>&1 | stamp >"$dir/log") || {
    echo "error: $1 build failed; log:" >&2; tail -n 30 "$dir/log" >&2; return 1; }
  results "$dir" "$(first_at "$dir/log" 'Connected to SSH')" "$start"
}

run_floor() {
  local dir="$work/floor" start port pid connected
  rm -rf "$dir"; mkdir -p "$dir"
  start=$(now)
  cp "$image" "$dir/vm.qcow2"
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  QEMU_STAMPS="$dir/qemu.stamps" "$work/qemu" -machine type=pc,accel=tcg -m 512M -smp cpus=2,sockets=2 -display none \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net,netdev=n0 \
    -drive "file=$dir/vm.qcow2,if=virtio,cache=writeback,format=qcow2" \
    -kernel "$base/vmlinuz" -initrd "$base/initrd.img" -append "$cmdline" >/dev/null 2>&1 &
  pid=$!
  local ssh=(ssh -q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o ConnectTimeout=2 -i "$key" -p "$port" root@127.0.0.1)
  until "${ssh[@]}" true 2>/dev/null; do sleep 0.1; done
  connected=$(now)
  "${ssh[@]}" "$commands; $profile" >"$dir/log"
  "${ssh[@]}" poweroff || true
  wait "$pid" || true
  results "$dir" "$connected" "$start"
}

ratio() { echo "$1 / $2" | bc -l; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

echo "load: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
printf '%-4s | %-25s | %-11s | %-23s | %-23s | %s\n' "" "boot->ssh kiln/packer/floor" "k/p  k/f" \
  "build kiln/packer/floor" "sshd up k/p/f (guest)" "accept k/p/f      stray k/p/f"
kp=() kf=() pass=0
for i in $(seq 1 "$runs"); do
  run_tool kiln "$KILN"; ks=$R_ssh kt=$R_total ku=$R_up ka=$R_accept kx=$R_stray
  run_tool packer packer; ps=$R_ssh pt=$R_total pu=$R_up pa=$R_accept px=$R_stray
  run_floor; fs=$R_ssh ft=$R_total fu=$R_up fa=$R_accept fx=$R_stray
  r1=$(ratio "$ks" "$ps") r2=$(ratio "$ks" "$fs")
  kp+=("$r1") kf+=("$r2")
  ok=$(echo "$r1 <= 1.0 && $r2 <= 1.05" | bc)
  pass=$((pass + ok))
  printf '%-4s | %6.1fs %6.1fs %6.1fs    | %5.3f %5.3f | %6.1fs %6.1fs %6.1fs | %6.1fs %6.1fs %6.1fs | %4.1fs %4.1fs %4.1fs  %3d %3d %3d  %s\n' \
    "$i" "$ks" "$ps" "$fs" "$r1" "$r2" "$kt" "$pt" "$ft" "$ku" "$pu" "$fu" "$ka" "$pa" "$fa" "$kx" "$px" "$fx" \
    "$([ "$ok" = 1 ] && echo ok || echo MISS)"
done
printf 'median of the per-run boot->ssh ratios: kiln/packer %.3f, kiln/floor %.3f\n' \
  "$(median "${kp[@]}")" "$(median "${kf[@]}")"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$pass" -eq "$runs" ]; then
  echo "verdict: PASS - boot->ssh: kiln <= packer and kiln <= 1.05 x floor in all $runs runs"
else
  echo "verdict: FAIL - boot->ssh: kiln <= packer and kiln <= 1.05 x floor in $pass of $runs runs"
  exit 1
fi
