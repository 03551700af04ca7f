# Sourced by bash scripts that run a FAKE cloud API inside a private network
# and mount namespace (`unshare -mn`), to put it where the cloud's
# hard-coded endpoint host names lead: the fidelity scripts
# (fakes/*/fidelity/packer_*.sh) and the benchmarks (bench/*.sh, through
# bench/fake-cloud.inc.sh). Nothing it sets up outlives the namespace but
# what the caller's cleanup removes.
#
# The caller sets `fake` (the fake's script, which takes the common options
# of fakes/shared/fake_server.py and has a `hosts` subcommand), `py` (the
# python to run it with), `work` (a temporary directory it removes), `out`
# (where fake.out, fake.err and sshd.log go) and a `pids` array, and kills
# the pids on exit (`fake_cleanup` does, as `trap fake_cleanup EXIT`).
#
# fake_namespace_net [HOST...]
#   brings `lo` up and bind-mounts an /etc/hosts that sends every endpoint
#   name (and each HOST) to 127.0.0.1, for this namespace only.
# fake_start TIME_SCALE [FAKE_OPTION...]
#   starts the fake on ports 80 and 443 and waits until it listens;
#   afterwards SSL_CERT_FILE names its CA.
# fake_sshd [SSHD_CONFIG_LINES]
#   starts a private sshd on 127.0.0.1:2222 that plays the instance: its
#   AuthorizedKeysCommand asks the fake for the public keys of the key pairs
#   of running instances (the instance's cloud-init), so a build's temporary
#   key pair is what lets it in.
# fake_namespace_up TIME_SCALE [SSHD_CONFIG_LINES]
#   all three.
# alicloud_namespace_up / tencentcloud_namespace_up TIME_SCALE [SSHD_CONFIG_LINES]
#   the same with the key the fake accepts exported before, and the
#   client's variables (ALICLOUD_ACCESS_KEY / ALICLOUD_SECRET_KEY,
#   TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY) after.
#
# The fidelity scripts also use:
# fidelity_setup USAGE MAX_ARGS VENV NAME "$@"
#   outside the namespace (no `--inside`): checks there are 1 to MAX_ARGS
#   arguments (OUTDIR first; USAGE says so otherwise), makes OUTDIR and runs
#   the script again inside `unshare -mn` as `SCRIPT --inside OUTDIR
#   ARGS...`. Inside: `out` (OUTDIR), `py` (VENV's python), `packer`
#   (KILN_TEST_PACKER, default /usr/bin/packer), both checked, `work` (a new
#   /tmp/kiln-NAME.XXXXXX), `pids` and the cleanup trap.
# fidelity_packer TEMPLATE
#   runs `packer build TEMPLATE` in `work` (its log in OUTDIR/packer.log,
#   output in packer.out), dumps the fake's requests.json and
#   resources.json, writes actions.txt (normalised by
#   fakes/alicloud/fidelity/normalize_actions.py) and exits with packer's
#   status.

fake_shared_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

fake_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

fake_namespace_net() {
  ip link set lo up
  { echo "127.0.0.1 localhost"; "$py" "$fake" hosts; for h in "$@"; do echo "127.0.0.1 $h"; done; } > "$work/hosts"
  mount --bind "$work/hosts" /etc/hosts
}

fake_start() {
  local scale="$1"
  shift
  "$py" "$fake" --http-port 80 --https-port 443 --state-dir "$work/fake" --port-file "$work/ports.json" \
    --time-scale "$scale" --public-ip 127.0.0.1 "$@" \
    > "$out/fake.out" 2> "$out/fake.err" &
  pids+=($!)
  for _ in $(seq 1 200); do [ -s "$work/ports.json" ] && break; sleep 0.05; done
  [ -s "$work/ports.json" ] || { echo "error: the fake did not start" >&2; cat "$out/fake.err" >&2; return 1; }
  export SSL_CERT_FILE="$work/fake/ca.pem"
}

fake_sshd() {
  local sshd_extra="${1:-}"
  mkdir -p /run/sshd "$work/ssh"
  ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host_key"
  cat > "$work/ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port 2222
HostKey $work/ssh/host_key
PidFile $work/ssh/sshd.pid
AuthorizedKeysFile none
AuthorizedKeysCommand /usr/bin/python3 $fake authorized-keys http://127.0.0.1:80
AuthorizedKeysCommandUser root
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
$sshd_extra
EOF
  /usr/sbin/sshd -D -e -f "$work/ssh/sshd_config" 2> "$out/sshd.log" &
  pids+=($!)
}

fake_namespace_up() {
  fake_namespace_net
  fake_start "$1" || return 1
  fake_sshd "${2:-}"
}

alicloud_keys() {
  export ALICLOUD_FAKE_KEYS="LTAIfakeaccesskey:packer-fidelity-secret"
  export ALICLOUD_ACCESS_KEY="LTAIfakeaccesskey" ALICLOUD_SECRET_KEY="packer-fidelity-secret"
  unset ALICLOUD_REGION SECURITY_TOKEN
}

alicloud_namespace_up() {
  alicloud_keys
  fake_namespace_up "$@"
}

tencentcloud_namespace_up() {
  export TENCENTCLOUD_FAKE_KEYS="AKIDpackerfidelity:packer-fidelity-secret"
  export TENCENTCLOUD_SECRET_ID="AKIDpackerfidelity" TENCENTCLOUD_SECRET_KEY="packer-fidelity-secret"
  unset TENCENTCLOUD_REGION TENCENTCLOUD_SECURITY_TOKEN
  fake_namespace_up "$@"
}

fidelity_setup() {
  local usage="$1" max="$2" venv="$3" name="$4"
  shift 4
  if [ "${1:-}" != "--inside" ]; then
    [ $# -ge 1 ] && [ $# -le "$max" ] || { echo "usage: $0 $usage" >&2; exit 2; }
    mkdir -p "$1"
    local dir
    dir="$(cd "$1" && pwd)"
    shift
    exec unshare -mn -- "$0" --inside "$dir" "$@"
  fi
  out="$2"
  py="$venv/bin/python"
  packer="${KILN_TEST_PACKER:-/usr/bin/packer}"
  [ -x "$py" ] || { echo "error: no venv python at \`$py\`: run scripts/install-deps.sh" >&2; exit 1; }
  [ -x "$packer" ] || { echo "error: no packer at \`$packer\`: run scripts/install-deps.sh" >&2; exit 1; }
  work="$(mktemp -d "/tmp/kiln-$name.XXXXXX")"
  pids=()
  trap fake_cleanup EXIT
}

fidelity_packer() {
  export CHECKPOINT_DISABLE=1 PACKER_LOG=1 PACKER_LOG_PATH="$out/packer.log"
  export PACKER_CACHE_DIR="$work/packer-cache" HOME="$work/home"
  mkdir -p "$HOME"
  local rc=0
  (cd "$work" && "$packer" build -color=false "$1") > "$out/packer.out" 2>&1 || rc=$?
  local u
  for u in requests resources; do
    "$py" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
      "http://127.0.0.1:80/_fake/$u" > "$out/$u.json"
  done
  "$py" "$fake_shared_dir/../alicloud/fidelity/normalize_actions.py" "$out/requests.json" > "$out/actions.txt"
  echo "packer exited $rc"
  exit "$rc"
}
