#!/usr/bin/env bash
# Time from a reachable server to the first command finished: kiln (and
# packer 1.6.6) start while sshd is down; sshd starts after a delay; the
# provisioner's first command writes a timestamp. Prints the lag between
# sshd listening and that timestamp. Target: kiln <= 50 ms. Runs N times
# (default 5) and prints each lag and the median. `openssh` is the floor:
# OpenSSH's client retrying in a tight loop, running the same command.
# env: N=5, KILN=/path/to/kiln (another binary, no build), SKIP_PACKER=1.
source "$(dirname "$0")/ssh-common.inc.sh"
N="${N:-5}"
# Started before sshd: polls the port every millisecond in one process and
# prints the time of the first successful connect (starting a process per
# attempt would make "listening" late by its own start-up time).
poll_port() {
  python3 -c "
import socket, time
while True:
    try:
        socket.create_connection(('127.0.0.1', $PORT), 0.05).close()
        break
    except OSError:
        time.sleep(0.001)
print('%.6f' % time.time())
" > "$WORK/up" &
  POLLER=$!
}
measure() { # tool, command...
  local tool="$1"; shift
  local lags=()
  for _ in $(seq "$N"); do
    rm -f "$WORK/done"
    printf '{"builders": [%s], "provisioners": [{"type": "shell", "inline": ["date +%%s.%%N > %s/done"]}]}' \
      "$(null_builder)" "$WORK" > "$WORK/t.json"
    "$@" "$WORK/t.json" > "$WORK/$tool.log" 2>&1 &
    local pid=$!
    poll_port
    sleep 1
    start_sshd
    wait "$POLLER"
    local up; up="$(cat "$WORK/up")"
    wait "$pid" || { echo "error: $tool failed:"; cat "$WORK/$tool.log"; exit 1; }
    stop_sshd
    lags+=("$(python3 -c "print(round(($(cat "$WORK/done") - $up) * 1000, 1))")")
  done
  printf '%-14s first command done %s ms after sshd listened (runs: %s)\n' "$tool" \
    "$(python3 -c "import statistics;print(statistics.median([$(IFS=,; echo "${lags[*]}")]))")" "${lags[*]}"
}
# The floor: OpenSSH's own client, retrying as fast as it can, running the
# same command (the template argument is ignored).
openssh_loop() {
  until ssh -q -i "$WORK/id" -p "$PORT" -o StrictHostKeyChecking=no \
      -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=5 \
      "$USER_NAME@127.0.0.1" "date +%s.%N > $WORK/done" 2>/dev/null; do :; done
}
measure openssh openssh_loop
measure kiln "$KILN" build -color=false
if [ "${SKIP_PACKER:-0}" = 1 ]; then
  :
elif command -v packer >/dev/null; then
  CHECKPOINT_DISABLE=1 measure packer-1.6.6 packer build -color=false
fi
