#!/usr/bin/env bash
# Runs kiln's benchmarks on two builds of kiln: BEFORE (a git revision,
# default 784f03c, the tree before issue 16's refactor) and AFTER (the
# working tree), interleaved (before, after, before, after, …) so that the
# machine's load falls on both alike. Each bench runs kiln only (packer's
# figures are in each bench's own run); the full logs go to $OUT and the
# summary lines of each run are printed at the end.
#
#   usage: bench/before-after.sh [BENCH…]
#          (env: BEFORE=784f03c RUNS=2 OUT= AFTER_KILN=/path/to/kiln, which
#          measures that binary as AFTER instead of building the tree)
#   BENCH: parallel-null validate-latency validate-hcl hcl-locals docker-build
#          amazon-parallel amazon-scale go-plugins ssh-first-command ssh-upload
#   (qemu-build is left out: it needs a quiet machine and has its own floor.)
#
# Both binaries are release builds in one target directory (dependencies
# are compiled once); each is copied to $OUT as soon as it is built, since
# the second build replaces target/release/kiln. The BEFORE tree is a
# detached `git worktree` under $OUT, removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BEFORE=${BEFORE:-784f03c}
RUNS=${RUNS:-2}
OUT=${OUT:-$(mktemp -d /tmp/kiln-before-after.XXXXXX)}
mkdir -p "$OUT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
ALL=(parallel-null validate-latency validate-hcl hcl-locals docker-build amazon-parallel
  amazon-scale go-plugins ssh-first-command ssh-upload)
BENCHES=("$@")
[ ${#BENCHES[@]} -gt 0 ] || BENCHES=("${ALL[@]}")

# build REV DEST: a release kiln of REV ("work" = the working tree) at DEST.
build() {
  local rev=$1 dest=$2 dir=$ROOT
  if [ -x "$dest" ]; then return; fi
  if [ "$rev" != work ]; then
    dir=$OUT/tree-$rev
    [ -d "$dir" ] || git worktree add -q --detach "$dir" "$rev"
  fi
  echo "building kiln ($rev) …" >&2
  (cd "$dir" && cargo build -q --release --bin kiln)
  cp "$CARGO_TARGET_DIR/release/kiln" "$dest"
}
build "$BEFORE" "$OUT/kiln-before"
if [ -n "${AFTER_KILN:-}" ]; then cp "$AFTER_KILN" "$OUT/kiln-after"; fi
build work "$OUT/kiln-after"
if [ -d "$OUT/tree-$BEFORE" ]; then git worktree remove --force "$OUT/tree-$BEFORE"; fi

# run BENCH WHICH N: one kiln-only run of BENCH with kiln-WHICH, logged.
run() {
  local bench=$1 which=$2 n=$3 log=$OUT/$1.$2.$3.log
  local -a args=() envs=(KILN="$OUT/kiln-$which" SKIP_PACKER=1 KILN_NO_BUILD=1)
  case $bench in
    parallel-null | validate-latency | validate-hcl) args=(--skip-packer) ;;
    hcl-locals) args=(--skip-packer --sizes 1000,10000 --runs 1) ;;
    docker-build) envs+=(RUNS=3) ;;
    amazon-scale) envs+=(N=100) ;;
    ssh-upload) envs+=(SIZE_MB=256) ;;
  esac
  echo "== $bench ($which, run $n)" >&2
  if ! env "${envs[@]}" "bench/$bench.sh" "${args[@]}" >"$log" 2>&1; then
    echo "   failed: see $log" >&2
  fi
}
for bench in "${BENCHES[@]}"; do
  for n in $(seq 1 "$RUNS"); do
    # Alternate which binary goes first, so neither always runs on a
    # warmer (or more loaded) machine.
    if [ $((n % 2)) -eq 1 ]; then order=(before after); else order=(after before); fi
    for which in "${order[@]}"; do run "$bench" "$which" "$n"; done
  done
done

echo
echo "before: $BEFORE ($("$OUT/kiln-before" version | head -1))"
echo "after:  working tree ($("$OUT/kiln-after" version | head -1))"
for bench in "${BENCHES[@]}"; do
  for which in before after; do
    for log in "$OUT/$bench.$which".*.log; do
      [ -f "$log" ] || continue
      echo "--- $(basename "$log" .log)"
      # The summary: the lines that name kiln's figures.
      { grep -Ei '^ *(kiln|wall|cpu|peak|median|p90|leak|failed|builds|requests|[0-9]+ +[0-9.]+ +[0-9.]+|single build|20 parallel|openssh)' "$log" |
        grep -vi '^ *packer' | tail -12; } || true
    done
  done
done
echo
echo "full logs: $OUT"
