#!/usr/bin/env bash
# kiln's quickstart: builds kiln and then a real, bootable Debian 12 VM
# image with the qemu builder, with no cloud account: it boots the base
# image (made once by scripts/make-base-image.sh and cached outside the
# checkout), provisions it over SSH with a shell script, shuts it down, and
# checksums and records the image in a manifest. Everything lands in
# ./quickstart-output (the image in debian-vm/debian.qcow2).
#   --file   the previous, VM-less quickstart (file + null builders)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo build --release --bin kiln
out=quickstart-output
mkdir -p "$out"
if [ "${1:-}" = "--file" ]; then
  shift
  cd "$out"
  ../target/release/kiln build -force "$@" ../examples/quickstart/template.json
else
  base=$(./scripts/make-base-image.sh | tail -n1)
  cd "$out"
  ../target/release/kiln build -force -var "base_dir=$base" "$@" ../examples/quickstart/debian-vm.json
  echo
  echo "Boot the image (Ctrl-a x quits):"
  echo "  qemu-system-x86_64 -m 512M -nographic -drive file=$(pwd)/debian-vm/debian.qcow2,if=virtio,snapshot=on"
fi
echo
echo "Artifacts in $(pwd):"
ls -l
