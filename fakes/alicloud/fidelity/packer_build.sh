#!/usr/bin/env bash
# Runs Debian's packer 1.6.6 (its built-in alicloud-ecs builder) through a
# whole build against the FAKE Alibaba Cloud API, to prove the fake is good
# enough for a real Alibaba client.
#
# Everything runs in a private network and mount namespace (`unshare -mn`):
# only `lo` exists there, /etc/hosts is bind-mounted to send Alibaba's
# endpoint host names to 127.0.0.1, the fake listens on 80 and 443 (its CA
# in SSL_CERT_FILE), and a private sshd plays the instance: its
# AuthorizedKeysCommand asks the fake for the public keys of the key pairs
# attached to running instances, so packer's temporary key pair is what lets
# it in. Parallel runs do not collide: each has its own namespace.
#
# Usage: packer_build.sh OUTDIR
#   OUTDIR gets packer.log (PACKER_LOG=1), packer.out, requests.json,
#   resources.json, actions.txt (the normalised action sequence; compare
#   with packer-1.6.6-actions.txt) and fake.err.
# Environment: KILN_ALICLOUD_VENV (the venv scripts/install-deps.sh makes),
#   KILN_TEST_PACKER (default /usr/bin/packer), ALICLOUD_FAKE_TIME_SCALE
#   (default 0.01).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fake="$here/../alicloud_fake.py"
. "$here/../../shared/namespace.inc.sh"

fidelity_setup OUTDIR 1 "${KILN_ALICLOUD_VENV:-$HOME/.cache/kiln/alicloud-venv}" alicloud-packer "$@"

# lo, /etc/hosts, the fake on 80/443, the sshd on 2222, SSL_CERT_FILE and
# the access key.
alicloud_namespace_up "${ALICLOUD_FAKE_TIME_SCALE:-0.01}"
fidelity_packer "$here/packer-template.json"
