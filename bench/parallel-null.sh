#!/usr/bin/env bash
# 100 parallel null builds (shell-local + shared manifest): kiln vs packer 1.6.6.
# Options are passed to parallel_null.py; see `bench/parallel-null.sh --help`.
set -euo pipefail
exec python3 "$(dirname "$0")/parallel_null.py" "$@"
