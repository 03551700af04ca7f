#!/usr/bin/env bash
# `validate` latency on a realistic template: kiln vs packer 1.6.6.
# Options are passed to validate_latency.py; see `bench/validate-latency.sh --help`.
set -euo pipefail
exec python3 "$(dirname "$0")/validate_latency.py" "$@"
