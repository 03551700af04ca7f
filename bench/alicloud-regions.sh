#!/usr/bin/env bash
# alicloud-ecs against the FAKE Alibaba Cloud API (fakes/alicloud), kiln and
# Debian's packer 1.6.6 in one run: one build whose image is copied to 20
# regions, against the floor the fake's delays impose, then 100 parallel
# builds (wall time, peak RSS of the process tree, leaks). See
# bench/alicloud_regions.py for what is measured and bench/README.md for
# the figures.
#
# Both tools run inside one private network and mount namespace
# (`unshare -mn`, as fakes/alicloud/fidelity/packer_build.sh does, sharing
# its setup through fakes/shared/namespace.inc.sh and bench/fake-cloud.inc.sh):
# /etc/hosts sends Alibaba's endpoint
# host names to 127.0.0.1, where the fake listens on 80 and 443 (its CA in
# SSL_CERT_FILE, for packer), and a private sshd on 2222 plays every
# instance. kiln reaches the same fake through `custom_endpoint_ecs`.
#
# Usage: bench/alicloud-regions.sh [--time-scale F] [--builds N]
#          [--parallel-time-scale F] [--copies N] [--provision S]
#          [--skip-packer] [--keep]
#   --time-scale F  the fake's delays (realistic seconds: instance start 15,
#                   image 60, copy 120, ...) times F (0.3)
#   --builds N      parallel builds per tool (100; 0 skips that part)
#   --parallel-time-scale F  the time scale for the parallel builds (0.1)
#   --copies N      regions the image is copied to (20)
#   --provision S   realistic seconds the provisioner takes, times F (10)
#   --skip-packer   kiln alone
#   --keep          keep the work directory (templates, logs, fake's logs)
# Environment: KILN (default target/release/kiln; never built here),
#   PACKER (default packer), KILN_ALICLOUD_VENV (scripts/install-deps.sh).
# Exits 1 when a build fails or anything leaks.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
fake="$repo/fakes/alicloud/alicloud_fake.py"
. "$here/fake-cloud.inc.sh"

fake_bench_enter 0.3 17,30 "--builds --copies --provision --parallel-time-scale" "$@"
scale="$2" keep="$3"
shift 3

fake_bench_inside "${KILN_ALICLOUD_VENV:-$HOME/.cache/kiln/alicloud-venv}" alicloud "$keep"
# 100 builds log in at once: let sshd take them all. `SetEnv SHLVL=1`:
# bash reads ~/.bashrc in every command sshd runs unless it is a nested
# shell, and this machine's root ~/.bashrc runs `pyenv init` (100 builds
# then queue on pyenv's rehash lock for up to 60 s; see ssh-common.inc.sh).
alicloud_namespace_up "$scale" "MaxStartups 300
MaxSessions 300
SetEnv SHLVL=1"

python3 "$here/alicloud_regions.py" --work "$work" --fake-pid "${pids[0]}" "$@"
