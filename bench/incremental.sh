#!/usr/bin/env bash
# Benchmark: iterating on the last provisioner, the loop incremental builds
# are for. The template has a slow first provisioner (`sleep $SLOW`, as an
# `apt-get install` would be) and a last one that changes on every round
# (`-var round=N`). Each round, interleaved, on the same machine:
#   packer       Debian's packer 1.6.6: a full build (it has no other way)
#   kiln         kiln build: a full build
#   kiln-incr    kiln build -incremental: restores the checkpoint after the
#                first provisioner and runs only the last one
# for qemu (the base Debian image under TCG, kernel boot, as
# bench/qemu-build.sh) and docker (a busybox base image). A first
# `kiln build -incremental` before the rounds fills the cache (its time is
# printed as `kiln-incr cold`). Prints each round, the medians and the
# ratios kiln-incr/packer and kiln-incr/kiln.
#
# Usage: bench/incremental.sh [--runs N] [--slow SECONDS] [--only qemu|docker]
#   (env: KILN=/path/to/kiln to measure that binary instead of building a
#   release one)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 slow=20 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --slow) slow=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--slow SECONDS] [--only qemu|docker]" >&2; exit 2 ;;
  esac
done
command -v packer >/dev/null || { echo "error: packer is not installed (scripts/install-deps.sh)" >&2; exit 1; }
if [ -z "${KILN:-}" ]; then
  cargo build --release --bin kiln >&2
  KILN="${CARGO_TARGET_DIR:-target}/release/kiln"
fi
KILN=$(realpath "$KILN")

# The base image first: scripts/make-base-image.sh keeps it in the default
# KILN_CACHE_DIR, which the checkpoints below must not share.
if [ -z "$only" ] || [ "$only" = qemu ]; then
  base=$(./scripts/make-base-image.sh | tail -n1)
fi
work=$(mktemp -d /tmp/kiln-bench-incr-XXXXXX)
export KILN_CACHE_DIR=$work/cache
cleanup() {
  "$KILN" cache clear >/dev/null 2>&1 || true
  docker ps -aq --filter label=kiln-bench-incr=1 | xargs -r docker rm -f -v >/dev/null 2>&1 || true
  if ls "$work"/*.images >/dev/null 2>&1; then
    sort -u "$work"/*.images | xargs -r docker rmi -f >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Seconds a command takes; its output goes to $work/last.log. Fails the
# benchmark when the command fails.
timed() {
  local start end
  start=$(date +%s.%N)
  if ! "$@" >"$work/last.log" 2>&1; then
    echo "error: $* failed:" >&2
    tail -n 30 "$work/last.log" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.1f}')"
}

median() { python3 -c "import statistics, sys; print(f'{statistics.median(map(float, sys.argv[1:])):.1f}')" "$@"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }

# Runs the rounds for one template; $1 = label, $2 = template, $3 = extra
# args for the full builds (-force for qemu's output directory).
rounds() {
  local label=$1 template=$2 force=$3 p k i cold
  local -a P=() K=() I=()
  cold=$(timed "$KILN" build -color=false -incremental $force -var round=0 "$template")
  echo "$label: kiln-incr cold (fills the cache): ${cold}s"
  for n in $(seq 1 "$runs"); do
    p=$(timed packer build -color=false $force -var round="$n" "$template")
    collect "$label"
    k=$(timed "$KILN" build -color=false $force -var round="$n" "$template")
    collect "$label"
    i=$(timed "$KILN" build -color=false -incremental $force -var round="$n" "$template")
    grep -q "Restoring the checkpoint after provisioner 1 of 2" "$work/last.log" || {
      echo "error: the incremental build did not restore its checkpoint:" >&2
      cat "$work/last.log" >&2
      exit 1
    }
    collect "$label"
    echo "$label round $n: packer ${p}s  kiln ${k}s  kiln-incr ${i}s"
    P+=("$p") K+=("$k") I+=("$i")
  done
  local mp mk mi
  mp=$(median "${P[@]}") mk=$(median "${K[@]}") mi=$(median "${I[@]}")
  echo "$label median: packer ${mp}s  kiln ${mk}s  kiln-incr ${mi}s  kiln-incr/packer $(ratio "$mi" "$mp")  kiln-incr/kiln $(ratio "$mi" "$mk")"
}

# Docker images a build committed (from its log), to remove at the end.
collect() {
  grep -oE 'sha256:[0-9a-f]{64}' "$work/last.log" >>"$work/$1.images" || true
}

if [ -z "$only" ] || [ "$only" = qemu ]; then
  cat >"$work/qemu.json" <<EOF
{
  "variables": {"round": "0"},
  "builders": [{
    "type": "qemu", "iso_url": "$base/disk.qcow2", "iso_checksum": "none", "disk_image": true,
    "accelerator": "tcg", "headless": true, "memory": 512, "cpus": 2, "boot_wait": "0s",
    "qemuargs": [["-kernel", "$base/vmlinuz"], ["-initrd", "$base/initrd.img"], ["-append", "$(cat "$base/cmdline")"]],
    "output_directory": "$work/qemu-out", "vm_name": "vm.qcow2", "format": "qcow2",
    "ssh_username": "root", "ssh_private_key_file": "$base/id_ed25519", "ssh_timeout": "10m",
    "shutdown_command": "poweroff", "shutdown_timeout": "5m"
  }],
  "provisioners": [
    {"type": "shell", "inline": ["sleep $slow", "echo base > /root/base"]},
    {"type": "shell", "inline": ["echo {{user \`round\`}} > /root/round", "sync"]}
  ]
}
EOF
  rounds qemu "$work/qemu.json" -force
fi

if [ -z "$only" ] || [ "$only" = docker ]; then
  image=kiln-bench/busybox:latest
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    root=$work/rootfs
    mkdir -p "$root"/{bin,etc,root,tmp} && chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
    tar -C "$root" --owner=0 --group=0 -cf "$work/rootfs.tar" .
    docker import "$work/rootfs.tar" "$image" >/dev/null
  fi
  cat >"$work/docker.json" <<EOF
{
  "variables": {"round": "0"},
  "builders": [{"type": "docker", "image": "$image", "commit": true, "pull": false,
                "run_command": ["-d", "-i", "-t", "-l", "kiln-bench-incr=1", "--entrypoint=/bin/sh", "--", "{{.Image}}"]}],
  "provisioners": [
    {"type": "shell", "inline": ["sleep $slow", "echo base > /root/base"]},
    {"type": "shell", "inline": ["echo {{user \`round\`}} > /root/round"]}
  ]
}
EOF
  rounds docker "$work/docker.json" ""
fi
