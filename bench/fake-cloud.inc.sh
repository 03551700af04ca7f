# Shared by the benchmarks that run kiln and Debian's packer 1.6.6 against a
# FAKE cloud API inside a private network and mount namespace
# (bench/alicloud-regions.sh, bench/tencent-parallel.sh). The namespace
# itself is set up by fakes/shared/namespace.inc.sh, which this sources; the
# work directory (templates, logs, the fake's logs) is removed on exit
# unless kept.
#
# fake_bench_enter SCALE USAGE_LINES OPTIONS "$@"
#   outside the namespace (no `--inside`): reads `--time-scale F` (default
#   SCALE), `--skip-packer`, `--keep` and the options named in OPTIONS (each
#   with a value, passed on to the script's measuring part), printing lines
#   USAGE_LINES (`16,29`) of the script on anything else; finds kiln (KILN,
#   default target/release/kiln; never built here) and, without
#   --skip-packer, packer (PACKER, default `packer`; a warning when it is not
#   1.6.6), checks for root, and runs the script again inside `unshare -mn`
#   as `SCRIPT --inside SCALE KEEP --kiln KILN OPTION... [--packer PACKER]`.
#   Inside, returns: the caller reads SCALE and KEEP from its $2 and $3.
# fake_bench_inside VENV NAME KEEP
#   inside: `py` (VENV's python, else python3), `work`
#   (/tmp/kiln-bench-NAME.XXXXXX), `out` ($work/logs), `pids`, the cleanup
#   trap (KEEP=1 keeps `work`), and HOME and PACKER_CACHE_DIR in `work`.
#   The caller has set `fake` and then brings the namespace up
#   (`alicloud_namespace_up`, `tencentcloud_namespace_up`, ...).

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$bench_dir/../fakes/shared/namespace.inc.sh"

fake_bench_enter() {
  local scale="$1" usage="$2" options=" $3 " skip=0 keep=0 args=()
  shift 3
  [ "${1:-}" = "--inside" ] && return 0
  while [ $# -gt 0 ]; do
    case "$1" in
      --time-scale) scale=$2; shift 2 ;;
      --skip-packer) skip=1; shift ;;
      --keep) keep=1; shift ;;
      *) if [[ "$options" == *" $1 "* ]]; then args+=("$1" "$2"); shift 2; else sed -n "${usage}p" "$0" >&2; exit 2; fi ;;
    esac
  done
  local kiln="${KILN:-${CARGO_TARGET_DIR:-$bench_dir/../target}/release/kiln}"
  [ -x "$kiln" ] || { echo "error: no kiln binary at \`$kiln\`: run \`cargo build --release --bin kiln\` or set KILN" >&2; exit 1; }
  if [ "$skip" -eq 0 ]; then
    local packer v
    packer="${PACKER:-$(command -v packer || true)}"
    [ -x "$packer" ] || { echo "error: no packer: run scripts/install-deps.sh, set PACKER or pass --skip-packer" >&2; exit 1; }
    v=$(CHECKPOINT_DISABLE=1 "$packer" version | head -n1)
    case "$v" in *1.6.6*) ;; *) echo "bench: warning: expected Packer v1.6.6, \`$packer\` says: $v" >&2 ;; esac
    args+=(--packer "$(realpath "$packer")")
  fi
  [ "$(id -u)" -eq 0 ] || { echo "error: \`unshare -mn\` needs root" >&2; exit 1; }
  exec unshare -mn -- "$0" --inside "$scale" "$keep" --kiln "$(realpath "$kiln")" "${args[@]}"
}

fake_bench_inside() {
  py="$1/bin/python"
  [ -x "$py" ] || py="$(command -v python3)"
  work="$(mktemp -d "/tmp/kiln-bench-$2.XXXXXX")"
  bench_keep="$3"
  out="$work/logs"
  mkdir -p "$out"
  pids=()
  trap fake_bench_cleanup EXIT
  export HOME="$work/home" PACKER_CACHE_DIR="$work/packer-cache"
  mkdir -p "$HOME"
}

fake_bench_cleanup() {
  if [ "$bench_keep" -eq 1 ]; then
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "bench: kept $work" >&2
  else
    fake_cleanup
  fi
}
