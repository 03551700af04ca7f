#!/usr/bin/env bash
# Time from a reachable server to the first command finished: kiln (and
# packer 1.6.6) start while sshd is down; sshd starts after a delay; the
# provisioner's first command writes a timestamp. Prints the lag between
# sshd listening and that timestamp. Target: kiln <= 50 ms. Runs N times
# (default 5) and prints each lag and the median.
source "$(dirname "$0")/ssh-common.inc.sh"
N="${N:-5}"
wait_port() {
  until python3 -c "import socket;socket.create_connection(('127.0.0.1',$PORT),0.05)" 2>/dev/null; do sleep 0.001; done
  now
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
    sleep 1
    start_sshd
    local up; up="$(wait_port)"
    wait "$pid" || { echo "error: $tool failed:"; cat "$WORK/$tool.log"; exit 1; }
    stop_sshd
    lags+=("$(python3 -c "print(round(($(cat "$WORK/done") - $up) * 1000, 1))")")
  done
  printf '%-14s first command done %s ms after sshd listened (runs: %s)\n' "$tool" \
    "$(python3 -c "import statistics;print(statistics.median([$(IFS=,; echo "${lags[*]}")]))")" "${lags[*]}"
}
measure kiln "$KILN" build -color=false
if command -v packer >/dev/null; then
  CHECKPOINT_DISABLE=1 measure packer-1.6.6 packer build -color=false
fi
