#!/usr/bin/env bash
# tencentcloud-cvm against the FAKE Tencent Cloud API (fakes/tencentcloud):
# N parallel builds (100), kiln and Debian's packer 1.6.6 on the same fake,
# wall time and peak memory of each tool's process tree, and leaks. See
# bench/tencent_parallel.py for what is measured.
#
# Both tools run inside one private network and mount namespace
# (`unshare -mn`, set up by fakes/shared/namespace.inc.sh's
# `tencentcloud_namespace_up`, as fakes/tencentcloud/fidelity/packer_build.sh
# does): /etc/hosts sends Tencent's endpoint host names to 127.0.0.1, where
# the fake listens on 80 and 443 (its CA in SSL_CERT_FILE, for packer);
# kiln reaches it over plain HTTP through KILN_TENCENTCLOUD_ENDPOINT.
#
# Usage: bench/tencent-parallel.sh [--time-scale F] [--builds N]
#          [--skip-packer] [--keep]
#   --time-scale F  the fake's delays (realistic seconds: instance 10,
#                   image 60, ...) times F (0.1)
#   --builds N      parallel builds per tool (100)
#   --skip-packer   kiln alone
#   --keep          keep the work directory (templates, logs, fake's logs)
# Environment: KILN (default target/release/kiln; never built here),
#   PACKER (default packer), KILN_TENCENTCLOUD_VENV (scripts/install-deps.sh).
# Exits 1 when a build fails or anything leaks.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
fake="$repo/fakes/tencentcloud/tencentcloud_fake.py"
. "$here/fake-cloud.inc.sh"

fake_bench_enter 0.1 14,22 "--builds" "$@"
scale="$2" keep="$3"
shift 3

fake_bench_inside "${KILN_TENCENTCLOUD_VENV:-$HOME/.cache/kiln/tencentcloud-venv}" tencentcloud "$keep"
tencentcloud_namespace_up "$scale"

python3 "$here/tencent_parallel.py" --work "$work" --fake-pid "${pids[0]}" --sshd-pid "${pids[1]}" "$@"
