#!/usr/bin/env bash
# Runs kiln's whole test suite: unit tests, integration tests that run the
# kiln binary, and the compatibility suite against Debian's packer 1.6.6.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# The openstack tests share one test cloud (scripts/openstack.sh); it comes
# up while cargo builds, and the tests' own `start` finds it up.
./scripts/openstack.sh start >/dev/null 2>"${TMPDIR:-/tmp}/kiln-openstack-start.log" &
export CHECKPOINT_DISABLE=1
# The tests that compare with packer skip themselves on a machine without
# it; here (and in CI) packer is installed above, so its absence must fail.
export KILN_REQUIRE_PACKER=1
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast "$@"
