#!/usr/bin/env bash
# The `ansible` provisioner's speed: the same 20-task playbook on the same
# SSH target (a private sshd on loopback), run by
#   kiln-proxy    kiln through its SSH proxy (the default),
#   kiln-direct   kiln with `use_proxy: false` (Ansible straight to sshd:
#                 the floor a proxy adds to),
#   packer-1.6.6  packer through its proxy.
# The figure is the provisioner's wall time: from a shell-local provisioner
# just before it to one just after (the same overhead for every tool).
# Every run gets the same Ansible settings: ControlMaster/ControlPersist in a
# fresh control directory, the old scp protocol and ssh-rsa allowed (packer
# 1.6.6's proxy needs both with OpenSSH 9; kiln's needs neither).
# Targets: kiln-proxy <= packer; kiln-proxy within 10% of kiln-direct.
# env: N=3 runs each (median printed), KILN=/path/to/kiln, SKIP_PACKER=1.
source "$(dirname "$0")/ssh-common.inc.sh"
N="${N:-3}"
command -v ansible-playbook >/dev/null || { echo "error: ansible-playbook is missing; run scripts/install-deps.sh" >&2; exit 1; }
start_sshd

# 20 tasks: files, templates, commands and a stat, into $WORK/target.
{
  echo "- hosts: all"
  echo "  gather_facts: false"
  echo "  tasks:"
  for i in $(seq 1 5); do
    cat <<T
    - name: directory $i
      file: { path: "{{ root }}/d$i", state: directory, mode: "0755" }
    - name: copy $i
      copy: { content: "file $i\n", dest: "{{ root }}/d$i/f.txt", mode: "0644" }
    - name: command $i
      command: "cat {{ root }}/d$i/f.txt"
      changed_when: false
    - name: stat $i
      stat: { path: "{{ root }}/d$i/f.txt" }
T
  done
} > "$WORK/playbook.yml"
[ "$(grep -c -- '- name:' "$WORK/playbook.yml")" = 20 ] || { echo "error: the playbook does not have 20 tasks" >&2; exit 1; }

template() { # extra ansible keys (JSON, leading comma)
  cat <<J
{"builders": [$(null_builder)],
 "provisioners": [
  {"type": "shell-local", "inline": ["date +%s.%N > $WORK/start"]},
  {"type": "ansible", "playbook_file": "$WORK/playbook.yml", "user": "$USER_NAME",
   "extra_arguments": ["-e", "root=$WORK/target"],
   "ansible_env_vars": ["ANSIBLE_SSH_CONTROL_PATH_DIR=$WORK/cp", "ANSIBLE_SCP_EXTRA_ARGS=-O",
     "ANSIBLE_SSH_ARGS=-C -o ControlMaster=auto -o ControlPersist=60s -o HostKeyAlgorithms=+ssh-rsa -o PubkeyAcceptedKeyTypes=+ssh-rsa"]$1},
  {"type": "shell-local", "inline": ["date +%s.%N > $WORK/end"]}
 ]}
J
}

declare -A MEDIAN
measure() { # name, extra keys, command...
  local name="$1" extra="$2"; shift 2
  local secs=()
  for _ in $(seq "$N"); do
    rm -rf "$WORK/target" "$WORK/cp" "$WORK/start" "$WORK/end"
    mkdir -p "$WORK/cp"
    template "$extra" > "$WORK/t.json"
    "$@" "$WORK/t.json" > "$WORK/$name.log" 2>&1 || { echo "error: $name failed:"; tail -30 "$WORK/$name.log"; exit 1; }
    [ "$(cat "$WORK/target/d5/f.txt")" = "file 5" ] || { echo "error: $name did not provision"; exit 1; }
    secs+=("$(python3 -c "print(round($(cat "$WORK/end") - $(cat "$WORK/start"), 3))")")
  done
  MEDIAN[$name]="$(python3 -c "import statistics;print(statistics.median([$(IFS=,; echo "${secs[*]}")]))")"
  printf '%-13s provisioner %6.3f s (runs: %s)\n' "$name" "${MEDIAN[$name]}" "${secs[*]}"
}

export KILN_NO_LIVE=1
measure kiln-direct ', "use_proxy": false' "$KILN" build -color=false
measure kiln-proxy '' "$KILN" build -color=false
printf 'kiln-proxy / kiln-direct: %.2f (target <= 1.10)\n' \
  "$(python3 -c "print(${MEDIAN[kiln-proxy]} / ${MEDIAN[kiln-direct]})")"
if [ "${SKIP_PACKER:-0}" != 1 ]; then
  command -v packer >/dev/null || { echo "error: packer is missing; run scripts/install-deps.sh" >&2; exit 1; }
  CHECKPOINT_DISABLE=1 measure packer-1.6.6 '' packer build -color=false
  printf 'kiln-proxy / packer-1.6.6: %.2f (target <= 1.00)\n' \
    "$(python3 -c "print(${MEDIAN[kiln-proxy]} / ${MEDIAN[packer-1.6.6]})")"
fi
