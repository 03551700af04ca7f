#!/usr/bin/env bash
# `validate` of a large HCL2 directory template (50 sources, 200 locals,
# 100 variables): kiln vs packer 1.6.6, side by side, with the ratio.
# Options are passed to validate_hcl.py; see `bench/validate-hcl.sh --help`.
set -euo pipefail
exec python3 "$(dirname "$0")/validate_hcl.py" "$@"
