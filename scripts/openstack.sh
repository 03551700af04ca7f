#!/usr/bin/env bash
# Brings up a real single-machine OpenStack (Zed, Debian 12's own packages) for kiln's
# openstack builder tests. See scripts/openstack/README.md.
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: scripts/openstack.sh COMMAND
  install          apt-install the packages the cloud needs (no-op when installed)
  start            bring the cloud up (idempotent); prints the admin `env` lines on stdout
  env [USER]       print `export OS_...` lines: USER is admin (default), kiln or kiln-other
  stop             stop every service, RabbitMQ and MariaDB (idempotent)
  status           say which services are up; exit 1 if any is down
  smoke            boot -> stop -> snapshot -> floating IP -> delete, as admin and as kiln
State lives in $KILN_OPENSTACK_DIR (default /var/tmp/kiln-openstack). Must run as root.
EOF
}

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/openstack"
PY=/usr/bin/python3   # a pyenv `python3` on PATH lacks the OpenStack modules
S="${KILN_OPENSTACK_DIR:-/var/tmp/kiln-openstack}"
COMPUTE_HOST=fakehost

# Debian 12 packages. nova-compute needs some `nova-compute-hypervisor`: nova-compute-ironic
# is the one that pulls no qemu/libvirt (nova-compute-kvm's qemu-block-extra 7.2 conflicts
# with the bookworm-backports qemu 10 that scripts/install-deps.sh installs); the cloud uses
# the fake driver in scripts/openstack/pylib/nova_virt/snapfake.py either way.
PACKAGES=(keystone glance-api placement-api nova-api nova-conductor nova-scheduler nova-compute
  nova-compute-ironic neutron-server cinder-api cinder-scheduler cinder-volume rabbitmq-server
  mariadb-server python3-pymysql python3-openstacksdk uwsgi-plugin-python3 qemu-utils curl)

log() { echo "openstack.sh: $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "\`scripts/openstack.sh $1\` must run as root"; }

# ---------------------------------------------------------------------------------- install

installed() {
  local st
  st=$(dpkg-query -W -f='${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null) || return 1
  [ "$(grep -c '^installed$' <<<"$st")" -eq "${#PACKAGES[@]}" ]
}

# The policy-rc.d in place while apt runs (postinsts must not start services); the old one
# (or none) comes back afterwards.
PRC=/usr/sbin/policy-rc.d
PRC_BACKUP=""
PRC_PLACED=0
restore_policy_rc() {
  [ "$PRC_PLACED" -eq 1 ] || return 0
  if [ -n "$PRC_BACKUP" ]; then
    mv -f "$PRC_BACKUP" "$PRC" || echo "error: cannot restore \`$PRC\` from \`$PRC_BACKUP\`" >&2
  else
    rm -f "$PRC"
  fi
  PRC_PLACED=0
}

cmd_install() {
  need_root install
  installed && return 0
  exec 8>/var/lock/kiln-openstack-install.lock
  flock -w 1800 8 || die "timed out waiting for \`/var/lock/kiln-openstack-install.lock\`"
  if installed; then exec 8>&-; return 0; fi
  log "installing ${#PACKAGES[@]} packages and their dependencies"
  debconf-set-selections "$HERE/preseed.txt" || die "debconf-set-selections \`$HERE/preseed.txt\` failed"
  if [ -e "$PRC" ]; then
    PRC_BACKUP=$(mktemp /usr/sbin/.policy-rc.d.kiln.XXXXXX)
    cp -p "$PRC" "$PRC_BACKUP"
  fi
  trap restore_policy_rc EXIT; trap "exit 130" INT TERM
  PRC_PLACED=1
  printf '#!/bin/sh\n# placed by kiln scripts/openstack.sh install: postinsts must not start services\nexit 101\n' >"$PRC"
  chmod 755 "$PRC"
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends)
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "${PACKAGES[@]}" >&2 8>&- 9>&-; then
    log "apt-get install failed; updating the package lists and retrying"
    apt-get -o DPkg::Lock::Timeout=600 -q update >&2 8>&- 9>&- || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install "${PACKAGES[@]}" >&2 8>&- 9>&- \
      || die "apt-get install ${PACKAGES[*]} failed"
  fi
  restore_policy_rc
  trap - EXIT INT TERM
  installed || die "packages still missing after apt-get install: ${PACKAGES[*]}"
  exec 8>&-
}

# ------------------------------------------------------------------------------ the services

# Start order; stop goes the other way. Each runs in its own session (pid = process group
# id) with its pid in $S/run/NAME.pid, so stop can kill whole groups by id.
SERVICES=(mariadb epmd rabbitmq keystone placement glance-api neutron-server nova-api
  nova-conductor nova-scheduler nova-compute cinder-api cinder-scheduler cinder-volume)
OPENSTACK_SERVICES=(keystone placement glance-api neutron-server nova-api nova-conductor
  nova-scheduler nova-compute cinder-api cinder-scheduler cinder-volume)
declare -A PORT=([keystone]=5000 [glance-api]=9292 [placement]=8778 [neutron-server]=9696
  [nova-api]=8774 [cinder-api]=8776 [rabbitmq]=5672 [epmd]=4369)

check_state_dir() {
  case "$S" in
    /*) ;;
    *) die "KILN_OPENSTACK_DIR must be an absolute path, not \`$S\`" ;;
  esac
  case "$S" in
    *[!A-Za-z0-9/._+-]*) die "KILN_OPENSTACK_DIR \`$S\` may hold only letters, digits and / . _ + -" ;;
  esac
  # a unix socket path holds at most 107 bytes
  [ ${#S} -le 80 ] || die "KILN_OPENSTACK_DIR \`$S\` is too long (MariaDB's socket lives in it)"
}

pid_of() { cat "$S/run/$1.pid" 2>/dev/null || true; }

# alive NAME: its recorded process runs and still leads its own session.
alive() {
  local p sid
  p=$(pid_of "$1")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 1
  sid=$(ps -o sid= -p "$p" 2>/dev/null | tr -d ' ')
  [ "$sid" = "$p" ]
}

# run_bg NAME CMD...: CMD in a new session, output in logs/NAME.out, pid in run/NAME.pid.
# The lock file descriptors (8, 9) are closed so that a service never holds a lock.
run_bg() {
  local name=$1
  shift
  rm -f "$S/run/$name.pid"
  setsid sh -c 'echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$S/run/$name.pid" "$@" \
    </dev/null >>"$S/logs/$name.out" 2>&1 8>&- 9>&- &
  local i
  for i in $(seq 100); do [ -s "$S/run/$name.pid" ] && return 0; sleep 0.05; done
  die "\`$name\` did not start (see \`$S/logs/$name.out\`)"
}

show_logs() {
  local name=$1 f
  for f in "$S/logs/$name.out" "$S/logs/$name.log"; do
    [ -s "$f" ] || continue
    echo "--- last lines of $f:" >&2
    tail -n 15 "$f" >&2
  done
}

# wait_until DESC SECONDS CHECK [SERVICE...]: polls CHECK (a shell command) until it
# succeeds; fails at once when one of the SERVICEs has died.
wait_until() {
  local desc=$1 secs=$2 check=$3
  shift 3
  local end=$((SECONDS + secs)) name
  while ! eval "$check" >/dev/null 2>&1; do
    for name in "$@"; do
      if ! alive "$name"; then
        show_logs "$name"
        die "\`$name\` exited while waiting for $desc"
      fi
    done
    if [ $SECONDS -ge $end ]; then
      for name in "$@"; do show_logs "$name"; done
      die "timed out after ${secs}s waiting for $desc"
    fi
    sleep 0.3
  done
}

http_up() { curl -s -o /dev/null -m 2 "http://127.0.0.1:$1/"; }
tcp_up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

sql() { mariadb --defaults-file="$S/etc/my.cnf" -N -B "$@"; }
sql_count() { sql -e "$1" 2>/dev/null || echo 0; }

# heartbeat_since BINARY TIME: the nova service reported in (every 10 s, first 5 s after it
# starts) after the given UTC time ("YYYY-MM-DD HH:MM:SS").
heartbeat_since() {
  [ "$(sql_count "SELECT COUNT(*) FROM nova.services WHERE \`binary\`='$1'
    AND host='$COMPUTE_HOST' AND deleted=0 AND updated_at >= '$2'")" -ge 1 ]
}
compute_node_exists() {
  [ "$(sql_count "SELECT COUNT(*) FROM nova.compute_nodes WHERE host='$COMPUTE_HOST' AND deleted=0")" -ge 1 ]
}
host_mapped() {
  [ "$(sql_count "SELECT COUNT(*) FROM nova_api.host_mappings WHERE host='$COMPUTE_HOST'")" -ge 1 ]
}
# cinder_volume_since TIME: cinder-volume's `kiln` backend reported in after TIME (UTC).
cinder_volume_since() {
  [ "$(sql_count "SELECT COUNT(*) FROM cinder.services WHERE \`binary\`='cinder-volume'
    AND host='$COMPUTE_HOST@kiln' AND deleted=0 AND updated_at >= '$1'")" -ge 1 ]
}
inventory_reported() {
  [ "$(sql_count "SELECT COUNT(*) FROM placement.inventories i JOIN placement.resource_providers r
    ON r.id = i.resource_provider_id WHERE r.name='$COMPUTE_HOST'")" -ge 1 ]
}

# rpc_consumer QUEUE SECONDS: a nova service consumes its RabbitMQ queue (it is serving).
rpc_consumer() { "$PY" "$HERE/wait_consumer.py" "$1" "$2"; }

# The cloud is up: bootstrapped and started before, every service running, Keystone
# answering and nova-compute consuming its RPC queue.
cloud_up() {
  [ -f "$S/state/ready" ] || return 1
  local name
  for name in "${SERVICES[@]}"; do
    [ "$name" = epmd ] && [ ! -s "$S/run/epmd.pid" ] && continue # another epmd served
    alive "$name" || return 1
  done
  curl -sf -o /dev/null -m 3 http://127.0.0.1:5000/v3 || return 1
  rpc_consumer "compute.$COMPUTE_HOST" 0 2>/dev/null
}

uwsgi_app() { # NAME PORT WSGI_FILE ENV=VALUE
  run_bg "$1" env "$4" /usr/bin/uwsgi_python3 --http-socket "127.0.0.1:$2" --wsgi-file "$3" \
    --master --processes 1 --threads 4 --enable-threads --lazy-apps --buffer-size 65535 \
    --die-on-term --need-app --add-header "Connection: close" --procname-prefix "kiln-os-$1 "
}

start_keystone() {
  uwsgi_app keystone 5000 /usr/bin/keystone-wsgi-public "OS_KEYSTONE_CONFIG_DIR=$S/etc"
}

admin_env() {
  export OS_AUTH_URL=http://127.0.0.1:5000/v3 OS_USERNAME=admin OS_PASSWORD=secret \
    OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
    OS_REGION_NAME=RegionOne OS_IDENTITY_API_VERSION=3
}

# t NAME CMD...: runs a bootstrap step, output to logs/setup-NAME.log, fails loudly.
t() {
  local name=$1 s=$SECONDS
  shift
  if ! "$@" >>"$S/logs/setup-$name.log" 2>&1 8>&- 9>&-; then
    echo "--- last lines of $S/logs/setup-$name.log:" >&2
    tail -n 20 "$S/logs/setup-$name.log" >&2
    echo "error: \`$*\` failed" >&2
    return 1
  fi
  log "$name done in $((SECONDS - s))s"
}

package_versions() {
  dpkg-query -W -f='${Package}=${Version}\n' keystone glance-common placement-common \
    neutron-common nova-common cinder-common | sort | md5sum | cut -d' ' -f1
}

# Keystone's schema and key repositories (in parallel), then its bootstrap (admin user,
# project, roles, identity endpoint).
sync_keystone() {
  local E=$S/etc/keystone.conf pids=() p rc=0
  t keystone-db keystone-manage --config-file "$E" db_sync & pids+=($!)
  if [ ! -f "$S/data/fernet-keys/0" ]; then
    t keystone-fernet keystone-manage --config-file "$E" fernet_setup --keystone-user root \
      --keystone-group root & pids+=($!)
  fi
  if [ ! -f "$S/data/credential-keys/0" ]; then
    t keystone-credential keystone-manage --config-file "$E" credential_setup --keystone-user root \
      --keystone-group root & pids+=($!)
  fi
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc -eq 0 ] || return 1
  t keystone-bootstrap keystone-manage --config-file "$E" bootstrap --bootstrap-password secret \
    --bootstrap-admin-url http://127.0.0.1:5000/v3/ --bootstrap-internal-url http://127.0.0.1:5000/v3/ \
    --bootstrap-public-url http://127.0.0.1:5000/v3/ --bootstrap-region-id RegionOne
}

# Nova's API database and cell mappings; the cell databases (nova, nova_cell0) are synced
# in parallel with `--local_cell` (nova-cell0.conf points [database] at nova_cell0).
sync_nova_api() {
  local E=$S/etc/nova.conf
  t nova-api-db nova-manage --config-file "$E" api_db sync || return 1
  t nova-cell0-map nova-manage --config-file "$E" cell_v2 map_cell0 --database_connection \
    "mysql+pymysql://openstack:secret@localhost/nova_cell0?unix_socket=$S/run/mysqld.sock&charset=utf8mb4" \
    || return 1
  if [ "$(sql_count "SELECT COUNT(*) FROM nova_api.cell_mappings WHERE name='cell1'")" -eq 0 ]; then
    t nova-cell1-map nova-manage --config-file "$E" cell_v2 create_cell --name=cell1 || return 1
  fi
}

# Keystone answering, with its service users, catalog and test users.
keystone_ready() {
  wait_until "Keystone on port 5000" 120 "curl -sf -o /dev/null -m 2 http://127.0.0.1:5000/v3" keystone
  # (identity.2: the catalog gained Cinder; an older state dir is set up again, idempotently)
  if [ ! -f "$S/state/identity.2" ]; then
    (admin_env && t identity "$PY" "$HERE/cloud_setup.py" identity) || die "keystone setup failed"
    touch "$S/state/identity.2"
  fi
}

# The database schemas (again when a package upgrade changed a version), with Keystone
# started and set up as soon as its own part is done; all in parallel. When the schemas are
# there already, only starts Keystone.
bootstrap_and_start_keystone() {
  local versions pids=() p rc=0 E=$S/etc
  versions=$(package_versions)
  if [ "$(cat "$S/state/synced" 2>/dev/null)" = "$versions" ]; then
    start_keystone # cmd_start waits for it after starting the other services
    return 0
  fi
  log "creating the database schemas"
  (sync_keystone && start_keystone && keystone_ready) & pids+=($!)
  t glance-db glance-manage --config-file "$E/glance-api.conf" db_sync & pids+=($!)
  t placement-db placement-manage --config-file "$E/placement.conf" db sync & pids+=($!)
  t neutron-db neutron-db-manage --config-file "$E/neutron.conf" \
    --config-file "$E/ml2_conf.ini" upgrade head & pids+=($!)
  sync_nova_api & pids+=($!)
  t nova-db nova-manage --config-file "$E/nova.conf" db sync --local_cell & pids+=($!)
  t nova-cell0-db nova-manage --config-file "$E/nova.conf" --config-file "$E/nova-cell0.conf" \
    db sync --local_cell & pids+=($!)
  t cinder-db cinder-manage --config-file "$E/cinder.conf" db sync & pids+=($!)
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc -eq 0 ] || die "database setup failed (logs in \`$S/logs/setup-*.log\`)"
  echo "$versions" >"$S/state/synced"
}

start_mariadb() {
  if [ ! -d "$S/data/mysql/mysql" ]; then
    rm -rf "$S/data/mysql"
    t mariadb-install mariadb-install-db --defaults-file="$S/etc/my.cnf" --skip-test-db \
      || die "mariadb-install-db failed"
  fi
  run_bg mariadb /usr/sbin/mariadbd --defaults-file="$S/etc/my.cnf"
}

start_rabbitmq() {
  # Erlang's port mapper, loopback only; if some other epmd answers already, it serves us too.
  if ! tcp_up 4369; then
    run_bg epmd env ERL_EPMD_ADDRESS=127.0.0.1 /usr/bin/epmd
    # else erl would start an epmd of its own, outside our process groups
    wait_until "epmd on port 4369" 30 "tcp_up 4369" epmd
  else
    rm -f "$S/run/epmd.pid"
  fi
  run_bg rabbitmq env HOME="$S/data/rabbitmq" RABBITMQ_CONF_ENV_FILE="$S/etc/rabbitmq-env.conf" \
    ERL_EPMD_ADDRESS=127.0.0.1 /usr/lib/rabbitmq/bin/rabbitmq-server
}

# Config templates and Python stand-ins, with the state dir filled in.
prepare_state() {
  mkdir -p "$S"/{etc,run,logs,state,data/{rabbitmq,glance-images,glance-staging,glance-tasks,nova,neutron,cinder,locks,fernet-keys,credential-keys}}
  chmod 700 "$S/data/fernet-keys" "$S/data/credential-keys"
  local f
  for f in "$HERE"/etc/*; do
    sed "s|@STATE@|$S|g" "$f" >"$S/etc/$(basename "$f").tmp"
    mv -f "$S/etc/$(basename "$f").tmp" "$S/etc/$(basename "$f")"
  done
  rm -rf "$S/pylib"
  cp -r "$HERE/pylib" "$S/pylib"
  [ -f "$S/data/tiny.qcow2" ] || qemu-img create -q -f qcow2 "$S/data/tiny.qcow2" 64M
}

start_failed() {
  [ "$1" -eq 0 ] && return 0
  log "start failed: stopping the services it started (logs in \`$S/logs\`)"
  stop_services quiet
}

cmd_start() {
  need_root start
  check_state_dir
  mkdir -p "$S"
  exec 9>"$S/lock"
  flock -w 1800 9 || die "timed out waiting for \`$S/lock\` (another start or stop)"
  if cloud_up; then
    log "already up (state in \`$S\`)"
    cmd_env admin
    return 0
  fi
  local t0=$SECONDS cold=1
  [ -f "$S/state/ready" ] || [ -f "$S/state/resources" ] && cold=0
  cmd_install
  # whatever is left of an earlier run (a crashed service, a half-done start) goes first
  stop_services quiet
  # a failed start stops what it started (the logs stay)
  trap 'start_failed $?' EXIT
  log "starting the cloud in \`$S\`"
  prepare_state

  start_mariadb
  start_rabbitmq
  wait_until "MariaDB" 90 "mariadb-admin --defaults-file='$S/etc/my.cnf' ping" mariadb
  sql <"$HERE/sql/create-dbs.sql" || die "creating the databases failed"
  log "MariaDB up after $((SECONDS - t0))s"
  bootstrap_and_start_keystone

  uwsgi_app placement 8778 /usr/bin/placement-api "OS_PLACEMENT_CONFIG_DIR=$S/etc"
  run_bg glance-api glance-api --config-file "$S/etc/glance-api.conf"
  run_bg neutron-server env PYTHONPATH="$S/pylib" neutron-server --config-file "$S/etc/neutron.conf" \
    --config-file "$S/etc/ml2_conf.ini"
  run_bg nova-api nova-api --config-file "$S/etc/nova.conf" --log-file "$S/logs/nova-api.log"
  # nova-compute loads its modules now, then waits for the go file (pylib/nova_compute_fake.py):
  # its first steps need nova-conductor consuming (a ping sent earlier is lost and costs 10 s)
  # and Placement answering (else its resources are reported only a minute later).
  rm -f "$S/run/nova-compute.go"
  run_bg nova-compute env KILN_COMPUTE_GO_FILE="$S/run/nova-compute.go" "$PY" \
    "$S/pylib/nova_compute_fake.py" --config-file "$S/etc/nova.conf" --log-file "$S/logs/nova-compute.log"
  # RabbitMQ may still be booting: oslo.messaging connects when it is there (retrying 1, 3, 5 s..)
  run_bg nova-conductor nova-conductor --config-file "$S/etc/nova.conf" --log-file "$S/logs/nova-conductor.log"
  run_bg nova-scheduler nova-scheduler --config-file "$S/etc/nova.conf" --log-file "$S/logs/nova-scheduler.log"
  local cinder_t0
  cinder_t0=$(date -u '+%F %T')
  run_bg cinder-api cinder-api --config-file "$S/etc/cinder.conf" --log-file "$S/logs/cinder-api.log"
  run_bg cinder-scheduler cinder-scheduler --config-file "$S/etc/cinder.conf" \
    --log-file "$S/logs/cinder-scheduler.log"
  run_bg cinder-volume env PYTHONPATH="$S/pylib" cinder-volume --config-file "$S/etc/cinder.conf" \
    --log-file "$S/logs/cinder-volume.log"
  wait_until "RabbitMQ on port 5672" 120 "tcp_up 5672" rabbitmq
  log "RabbitMQ up after $((SECONDS - t0))s"
  keystone_ready
  log "Keystone up after $((SECONDS - t0))s"
  wait_until "Placement on port 8778" 120 "http_up 8778" placement
  wait_until "nova-conductor to consume its queue" 120 "rpc_consumer conductor 2" nova-conductor
  touch "$S/run/nova-compute.go"
  local name
  for name in glance-api neutron-server nova-api cinder-api; do
    wait_until "$name on port ${PORT[$name]}" 120 "http_up ${PORT[$name]}" "$name"
  done

  log "all APIs answer after $((SECONDS - t0))s"
  local res_pid=""
  if [ ! -f "$S/state/resources" ]; then
    (admin_env && t resources "$PY" "$HERE/cloud_setup.py" resources "$S/data/tiny.qcow2") &
    res_pid=$!
  fi
  wait_until "nova-compute to register" 120 compute_node_exists nova-compute nova-conductor
  if ! host_mapped; then
    t discover-hosts nova-manage --config-file "$S/etc/nova.conf" cell_v2 discover_hosts \
      || die "nova-manage cell_v2 discover_hosts failed"
  fi
  wait_until "the compute host's cell mapping" 30 host_mapped
  wait_until "nova-compute to consume its queue" 120 "rpc_consumer compute.$COMPUTE_HOST 2" nova-compute
  wait_until "nova-compute's resources in Placement" 60 inventory_reported nova-compute
  wait_until "cinder-volume to report" 120 "cinder_volume_since '$cinder_t0'" cinder-volume
  if [ -n "$res_pid" ]; then
    wait "$res_pid" || die "creating the flavor, image and networks failed"
    touch "$S/state/resources"
  fi
  touch "$S/state/ready"
  trap - EXIT
  log "up in $((SECONDS - t0))s ($([ $cold -eq 1 ] && echo cold || echo warm) start; state in \`$S\`)"
  cmd_env admin
}

# kill_group NAME SIGNAL: the whole process group of the service.
kill_group() {
  local p
  p=$(pid_of "$1")
  [ -n "$p" ] && kill "-$2" -- "-$p" 2>/dev/null || true
}

group_alive() {
  local p
  p=$(pid_of "$1")
  [ -n "$p" ] && kill -0 -- "-$p" 2>/dev/null
}

# stop_some SECONDS NAME...: TERM (the leader only for MariaDB and RabbitMQ, which shut down
# cleanly on it; the whole group for the rest), then KILL what is left after SECONDS.
stop_some() {
  local secs=$1 name p left
  shift
  for name in "$@"; do
    alive "$name" || { rm -f "$S/run/$name.pid"; continue; }
    p=$(pid_of "$name")
    case "$name" in
      mariadb|rabbitmq) kill -TERM "$p" 2>/dev/null || true ;;
      *) kill_group "$name" TERM ;;
    esac
  done
  local end=$((SECONDS + secs))
  while :; do
    left=()
    for name in "$@"; do
      [ -s "$S/run/$name.pid" ] && group_alive "$name" && left+=("$name")
    done
    [ ${#left[@]} -eq 0 ] && break
    if [ $SECONDS -ge $end ]; then
      for name in "${left[@]}"; do
        log "\`$name\` did not stop in ${secs}s: killing its process group"
        kill_group "$name" KILL
      done
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  for name in "$@"; do
    group_alive "$name" 2>/dev/null || rm -f "$S/run/$name.pid"
  done
}

stop_services() {
  local quiet=${1:-} name any=0
  [ -d "$S/run" ] || return 0
  rm -f "$S/state/ready"
  for name in "${SERVICES[@]}"; do [ -s "$S/run/$name.pid" ] && any=1; done
  [ $any -eq 1 ] || return 0
  [ -n "$quiet" ] || log "stopping"
  stop_some 8 "${OPENSTACK_SERVICES[@]}"
  stop_some 30 rabbitmq mariadb
  stop_some 5 epmd
}

cmd_stop() {
  need_root stop
  check_state_dir
  [ -d "$S" ] || return 0
  exec 9>"$S/lock"
  flock -w 1800 9 || die "timed out waiting for \`$S/lock\` (another start or stop)"
  stop_services
  local name
  for name in "${SERVICES[@]}"; do
    ! alive "$name" || die "\`$name\` (pid $(pid_of "$name")) is still running"
  done
}

# Resident memory of every process the cloud runs, in MiB.
memory_mib() {
  local sids=() name
  for name in "${SERVICES[@]}"; do alive "$name" && sids+=("$(pid_of "$name")"); done
  [ ${#sids[@]} -gt 0 ] || { echo 0; return; }
  ps -eo sid=,rss= | awk -v list="${sids[*]}" '
    BEGIN { n = split(list, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
    ($1 in want) { sum += $2 } END { printf "%d\n", sum / 1024 }'
}

cmd_status() {
  check_state_dir
  local name down=0 p port
  for name in "${SERVICES[@]}"; do
    port=${PORT[$name]:-}
    [ "$name" = mariadb ] && port="unix socket $S/run/mysqld.sock"
    if alive "$name"; then
      p=$(pid_of "$name")
      printf '%-15s up    pid %-7s %s\n' "$name" "$p" "${port:+port $port}"
    elif [ "$name" = epmd ] && tcp_up 4369; then
      printf '%-15s up    (not ours) port 4369\n' "$name"
    else
      printf '%-15s down\n' "$name"
      down=1
    fi
  done
  if alive mariadb && heartbeat_since nova-compute "$(date -u -d '-40 seconds' '+%Y-%m-%d %H:%M:%S')"; then
    echo "nova-compute heartbeat: within the last 40 s (host $COMPUTE_HOST)"
  else
    echo "nova-compute heartbeat: none in the last 40 s"
  fi
  if alive rabbitmq && rpc_consumer "compute.$COMPUTE_HOST" 0 2>/dev/null; then
    echo "nova-compute RPC queue: consumed"
  else
    echo "nova-compute RPC queue: not consumed"
    down=1
  fi
  echo "memory: $(memory_mib) MiB RSS in all the cloud's processes"
  [ -f "$S/state/ready" ] && [ $down -eq 0 ] && echo "cloud: up (state in $S)" && return 0
  echo "cloud: not up (state in $S)"
  return 1
}

cmd_env() {
  local who=${1:-admin} user pass project
  case "$who" in
    admin) user=admin pass=secret project=admin ;;
    kiln) user=kiln pass=kiln-secret project=kiln ;;
    kiln-other) user=kiln-other pass=kiln-other-secret project=kiln-other ;;
    *) die "unknown user \`$who\` (admin, kiln or kiln-other)" ;;
  esac
  cat <<EOT
export OS_AUTH_URL=http://127.0.0.1:5000/v3
export OS_USERNAME=$user
export OS_PASSWORD=$pass
export OS_PROJECT_NAME=$project
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne
export OS_IDENTITY_API_VERSION=3
EOT
}

cmd_smoke() {
  check_state_dir
  cloud_up || die "the cloud is not up: run \`scripts/openstack.sh start\` first"
  local who
  for who in admin kiln; do
    log "smoke test as \`$who\`"
    (eval "$(cmd_env "$who")" && "$PY" "$HERE/smoke.py") || die "smoke test as \`$who\` failed"
  done
}

main() {
  local cmd="${1:-}"
  [ $# -gt 0 ] && shift
  case "$cmd" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env "$@" ;;
    smoke) cmd_smoke ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
