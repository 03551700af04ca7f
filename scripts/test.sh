#!/usr/bin/env bash
# Runs kiln's whole test suite: unit tests, integration tests that run the
# kiln binary, and the compatibility suite against Debian's packer 1.6.6.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
export CHECKPOINT_DISABLE=1
# The tests that compare with packer skip themselves on a machine without
# it; here (and in CI) packer is installed above, so its absence must fail.
export KILN_REQUIRE_PACKER=1
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast "$@"
