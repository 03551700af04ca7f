# Sourced by bash scripts that run inside a private network and mount
# namespace (`unshare -mn`) to put the FAKE Alibaba Cloud API where
# Alibaba's hard-coded endpoint host names lead: packer_build.sh here and
# bench/alicloud-regions.sh. `alicloud_namespace_up` brings `lo` up,
# bind-mounts an /etc/hosts that sends every endpoint name to 127.0.0.1 (for
# this namespace only), starts the fake on ports 80 and 443 and a private
# sshd on 127.0.0.1:2222 that plays the instance: its
# AuthorizedKeysCommand asks the fake for the public keys of the key pairs
# attached to running instances (the instance's cloud-init), so a build's
# temporary key pair is what lets it in.
#
# The caller sets `fake` (alicloud_fake.py), `py` (the python to run it
# with), `work` (a temporary directory it removes), `out` (where fake.out,
# fake.err and sshd.log go) and a `pids` array, and kills the pids on exit.
# Afterwards SSL_CERT_FILE names the fake's CA and ALICLOUD_ACCESS_KEY /
# ALICLOUD_SECRET_KEY are the key the fake accepts.
#
# Usage: alicloud_namespace_up TIME_SCALE [SSHD_CONFIG_LINES]
#
# `fake_namespace_up` is the cloud-neutral part (lo, /etc/hosts from the
# fake's `hosts` subcommand, the fake on 80/443, the sshd, SSL_CERT_FILE),
# for any fake with the same command line (fakes/tencentcloud uses it too);
# the caller exports the fake's key variable before and its client's after.

alicloud_namespace_up() {
  export ALICLOUD_FAKE_KEYS="LTAIfakeaccesskey:packer-fidelity-secret"
  fake_namespace_up "$@" || return 1
  export ALICLOUD_ACCESS_KEY="LTAIfakeaccesskey" ALICLOUD_SECRET_KEY="packer-fidelity-secret"
  unset ALICLOUD_REGION SECURITY_TOKEN
}

fake_namespace_up() {
  local scale="$1" sshd_extra="${2:-}"
  ip link set lo up
  { echo "127.0.0.1 localhost"; "$py" "$fake" hosts; } > "$work/hosts"
  mount --bind "$work/hosts" /etc/hosts

  "$py" "$fake" --http-port 80 --https-port 443 --state-dir "$work/fake" --port-file "$work/ports.json" \
    --time-scale "$scale" --public-ip 127.0.0.1 \
    > "$out/fake.out" 2> "$out/fake.err" &
  pids+=($!)
  for _ in $(seq 1 200); do [ -s "$work/ports.json" ] && break; sleep 0.05; done
  [ -s "$work/ports.json" ] || { echo "error: the fake did not start" >&2; cat "$out/fake.err" >&2; return 1; }

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

  export SSL_CERT_FILE="$work/fake/ca.pem"
}
