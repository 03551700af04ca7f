#!/usr/bin/env bash
# Runs Debian's packer 1.6.6 (its built-in alicloud-import post-processor,
# after a `file` build writing a small disk image) against the FAKE Alibaba
# Cloud API, to record the calls packer makes for the template kiln's
# crates/kiln/tests/cli/alicloud_import.rs runs.
#
# As packer_build.sh: a private network and mount namespace (`unshare
# -mn`), /etc/hosts bind-mounted to send Alibaba's endpoint host names (and
# the bucket's virtual host, `kiln-import-test.oss-cn-hangzhou.aliyuncs.com`)
# to 127.0.0.1, the fake on 80 and 443 with its CA in SSL_CERT_FILE.
#
# Usage: packer_import.sh OUTDIR [--no-import-role]
#   OUTDIR gets packer.out, packer.log, requests.json, resources.json and
#   actions.txt (normalised; compare with packer-1.6.6-import-actions.txt,
#   or packer-1.6.6-import-role-actions.txt with --no-import-role, where
#   packer sleeps a minute after creating the role).
# Environment: KILN_ALICLOUD_VENV, KILN_TEST_PACKER, ALICLOUD_FAKE_TIME_SCALE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fake="$here/../alicloud_fake.py"
. "$here/../../shared/namespace.inc.sh"

fidelity_setup "OUTDIR [--no-import-role]" 2 "${KILN_ALICLOUD_VENV:-$HOME/.cache/kiln/alicloud-venv}" alicloud-import "$@"
role_flag="${3:-}"

# lo, /etc/hosts (with the bucket's virtual host), the fake on 80/443 and
# SSL_CERT_FILE, the access key; no instance, so no sshd.
fake_namespace_net kiln-import-test.oss-cn-hangzhou.aliyuncs.com
alicloud_keys
args=()
[ "$role_flag" = "--no-import-role" ] && args+=(--no-import-role)
fake_start "${ALICLOUD_FAKE_TIME_SCALE:-0.01}" "${args[@]}"
fidelity_packer "$here/packer-import-template.json"
