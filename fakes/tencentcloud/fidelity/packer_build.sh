#!/usr/bin/env bash
# Runs Debian's packer 1.6.6 (its built-in tencentcloud-cvm builder) through
# a whole build against the FAKE Tencent Cloud API, to prove the fake is good
# enough for a real Tencent client (tencentcloud-sdk-go, TC3-HMAC-SHA256).
#
# Everything runs in a private network and mount namespace (`unshare -mn`),
# set up by ../../shared/namespace.inc.sh (`tencentcloud_namespace_up`):
# only `lo` exists there, /etc/hosts sends Tencent's endpoint host names
# (`cvm.tencentcloudapi.com`, `vpc.tencentcloudapi.com`, ...) to 127.0.0.1,
# the fake listens on 80 and 443 (its CA in SSL_CERT_FILE), and a private
# sshd on 2222 plays the instance: its AuthorizedKeysCommand asks the fake
# for the public keys of the key pairs bound to running instances, so
# packer's temporary key pair is what lets it in.
#
# Usage: packer_build.sh OUTDIR
#   OUTDIR gets packer.log (PACKER_LOG=1), packer.out, requests.json,
#   resources.json, actions.txt (the normalised action sequence; compare
#   with packer-1.6.6-actions.txt) and fake.err.
# Environment: KILN_TENCENTCLOUD_VENV (the venv scripts/install-deps.sh
#   makes), KILN_TEST_PACKER (default /usr/bin/packer),
#   TENCENTCLOUD_FAKE_TIME_SCALE (default 0.01).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fake="$here/../tencentcloud_fake.py"
. "$here/../../shared/namespace.inc.sh"

fidelity_setup OUTDIR 1 "${KILN_TENCENTCLOUD_VENV:-$HOME/.cache/kiln/tencentcloud-venv}" tencentcloud-packer "$@"

tencentcloud_namespace_up "${TENCENTCLOUD_FAKE_TIME_SCALE:-0.01}"
fidelity_packer "$here/packer-template.json"
