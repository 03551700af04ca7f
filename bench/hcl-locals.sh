#!/usr/bin/env bash
# Benchmark: `validate` of HCL2 templates with 1,000 to 100,000 locals,
# kiln and packer 1.6.6 side by side (packer up to --packer-max locals):
# median wall time, time per local, and kiln's growth (1.00 = linear).
#   usage: bench/hcl-locals.sh [--sizes 1000,10000,100000] [--runs 3]
#          [--packer-max 10000] [--skip-packer]     (env: KILN= PACKER=)
set -euo pipefail
exec python3 "$(dirname "$0")/hcl_locals.py" "$@"
