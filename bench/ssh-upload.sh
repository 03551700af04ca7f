#!/usr/bin/env bash
# Uploads one file (1 GiB by default; SIZE_MB to change) through the file
# provisioner with kiln (sftp and scp), with packer 1.6.6 (scp, its
# default) and with plain `scp`, to the same private sshd in one run, and
# prints MB/s for each. Target: kiln >= 90% of scp.
# env: SIZE_MB=1024, KILN=/path/to/kiln (another binary, no build), SKIP_PACKER=1.
source "$(dirname "$0")/ssh-common.inc.sh"
SIZE_MB="${SIZE_MB:-1024}"
start_sshd
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom > "$WORK/payload"
mkdir -p "$WORK/dst"
rate() { python3 -c "print(f'{$SIZE_MB * 1.048576 / ($2 - $1):8.1f}')"; }
run_tool() { # name, command...
  local name="$1"; shift
  rm -f "$WORK/dst/payload"
  local t0 t1; t0="$(now)"
  "$@" > "$WORK/$name.log" 2>&1 || { echo "error: $name failed:"; cat "$WORK/$name.log"; exit 1; }
  t1="$(now)"
  cmp -s "$WORK/payload" "$WORK/dst/payload" || { echo "error: $name uploaded a different file"; exit 1; }
  printf '%-14s %s MB/s  (%.2f s)\n' "$name" "$(rate "$t0" "$t1")" "$(python3 -c "print($t1-$t0)")"
}
template() { # extra builder keys
  printf '{"builders": [%s], "provisioners": [{"type": "file", "source": "%s/payload", "destination": "%s/dst/payload"}]}' \
    "$(null_builder "$1")" "$WORK" "$WORK" > "$WORK/t.json"
}
echo "upload of ${SIZE_MB} MiB to 127.0.0.1:$PORT"
run_tool scp scp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -i "$WORK/id" -P "$PORT" "$WORK/payload" "127.0.0.1:$WORK/dst/payload"
template ''
run_tool kiln-sftp "$KILN" build -color=false "$WORK/t.json"
template ', "ssh_file_transfer_method": "scp"'
run_tool kiln-scp "$KILN" build -color=false "$WORK/t.json"
template ''
if [ "${SKIP_PACKER:-0}" = 1 ]; then
  :
elif command -v packer >/dev/null; then
  CHECKPOINT_DISABLE=1 run_tool packer-1.6.6 packer build -color=false "$WORK/t.json"
else
  echo "packer         (not installed; run scripts/install-deps.sh)"
fi
