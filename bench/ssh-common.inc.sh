# Shared by ssh-upload.sh and ssh-first-command.sh: starts a private sshd
# on a loopback port with its own keys in a temp dir (never the machine's
# sshd) and kills it, and everything it started, on exit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -x /usr/sbin/sshd ] || { echo "error: /usr/sbin/sshd is missing; run scripts/install-deps.sh" >&2; exit 1; }
KILN="${KILN:-$ROOT/target/release/kiln}"
if [ -z "${KILN_NO_BUILD:-}" ] && [ "$KILN" = "$ROOT/target/release/kiln" ]; then
  (cd "$ROOT" && cargo build --release --bin kiln -q)
fi
WORK="$(mktemp -d /tmp/kiln-bench-ssh.XXXXXX)"
ssh-keygen -q -N "" -t ed25519 -f "$WORK/host"
ssh-keygen -q -N "" -t ed25519 -f "$WORK/id"
PORT="$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')"
# `SetEnv SHLVL=1`: bash reads ~/.bashrc in every command sshd runs unless
# it is a nested shell (SHLVL >= 2). This machine's root ~/.bashrc runs
# `pyenv init` (~0.3-0.5 s), which would be measured as the command's own
# cost for every tool alike; the benches measure the client, so they skip it
# (as the test sshd does).
cat > "$WORK/sshd_config" <<CFG
SetEnv SHLVL=1
ListenAddress 127.0.0.1
HostKey $WORK/host
PidFile $WORK/sshd.pid
AuthorizedKeysFile $WORK/id.pub
UsePAM no
StrictModes no
PermitRootLogin yes
Subsystem sftp internal-sftp
LogLevel ERROR
CFG
mkdir -p /run/sshd
start_sshd() {
  setsid /usr/sbin/sshd -D -e -f "$WORK/sshd_config" -p "$PORT" 2>>"$WORK/sshd.log" &
  SSHD_PID=$!
}
stop_sshd() {
  # Sessions leave sshd's process group: kill the whole tree.
  if [ -n "${SSHD_PID:-}" ]; then
    pkill -KILL -P "$SSHD_PID" 2>/dev/null || true
    kill -KILL "$SSHD_PID" 2>/dev/null || true
    wait "$SSHD_PID" 2>/dev/null || true
    SSHD_PID=""
  fi
}
cleanup() { stop_sshd; rm -rf "$WORK"; }
trap cleanup EXIT
USER_NAME="$(id -un)"
null_builder() {
  printf '{"type": "null", "ssh_host": "127.0.0.1", "ssh_port": %s, "ssh_username": "%s", "ssh_private_key_file": "%s/id", "ssh_timeout": "30s"%s}' \
    "$PORT" "$USER_NAME" "$WORK" "${1:-}"
}
now() { date +%s.%N; }
