#!/usr/bin/env bash
# Benchmark: the docker builder, kiln vs Debian's packer 1.6.6 (which drives
# the docker CLI), on the same template, in one run.
#   1. one build (median of $RUNS rounds, each running every tool and
#      floor once, interleaved): a container from a busybox
#      base image, shell + file provisioning, a commit with `changes`;
#   1b. the engine floor: the same work as raw API calls (docker_floor.py),
#       the Packer way (per script an upload and an exec; a paused commit,
#       then the removal that stops the container) and kiln's (per script
#       one exec with the script on its stdin; pause, then the commit and
#       the kill at once, then the removal);
#   2. $PARALLEL builds of that template in parallel (one template with
#      $PARALLEL builders, -parallel-builds=$PARALLEL), and the scaling
#      against one build.
# Prints every figure and the kiln/packer ratios. Removes every image and
# container it made. Needs a running docker engine, packer and busybox
# (./scripts/install-deps.sh); builds kiln in release mode.
#   usage: bench/docker-build.sh   (env: RUNS=7 PARALLEL=20 SKIP_PACKER=0 KILN=)
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-7}
PARALLEL=${PARALLEL:-20}
SKIP_PACKER=${SKIP_PACKER:-0}
BASE=kiln-bench/busybox:latest

docker info >/dev/null 2>&1 || { echo "error: no docker engine (docker info failed)" >&2; exit 1; }
# KILN=/path/to/kiln measures another binary (no build).
if [ -z "${KILN:-}" ]; then
  cargo build --release -q -p kiln
  KILN=$PWD/target/release/kiln
fi

work=$(mktemp -d /tmp/kiln-bench-docker.XXXXXX)
cleanup() {
  # Every image the builds committed is listed in the manifests.
  if ls "$work"/*/manifest.json >/dev/null 2>&1; then
    python3 - "$work" <<'PY' | xargs -r docker rmi -f >/dev/null 2>&1 || true
import glob, json, sys
for m in glob.glob(sys.argv[1] + "/*/manifest.json"):
    for b in json.load(open(m)).get("builds", []):
        print(b["artifact_id"])
PY
  fi
  docker ps -aq --filter label=kiln-bench=1 | xargs -r docker rm -f -v >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The base image: busybox-static imported once (nothing can be pulled).
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  root=$work/rootfs
  mkdir -p "$root"/{bin,etc,root,tmp,var/tmp} && chmod 1777 "$root/tmp" "$root/var/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
  tar -C "$root" --owner=0 --group=0 -cf "$work/rootfs.tar" .
  docker import "$work/rootfs.tar" "$BASE" >/dev/null
fi

mkdir -p "$work/files/sub"
echo "hello" > "$work/files/a.txt"
head -c 1048576 /dev/urandom > "$work/files/sub/blob.bin"

# template N: N docker builders named b1..bN.
template() {
  python3 - "$1" "$work/files/" <<'PY'
import json, sys
n, files = int(sys.argv[1]), sys.argv[2]
b = {"type": "docker", "image": "kiln-bench/busybox:latest", "pull": False, "commit": True,
     "run_command": ["-d", "-i", "-t", "-l", "kiln-bench=1", "--entrypoint=/bin/sh", "--", "{{.Image}}"],
     "changes": ["ENV BUILT_BY=bench", "WORKDIR /opt/app", "CMD [\"/bin/sh\"]"]}
print(json.dumps({
  "builders": [dict(b, name=f"b{i}") for i in range(1, n + 1)],
  "provisioners": [
    {"type": "shell", "inline": ["mkdir -p /opt/app", "echo provisioning $(hostname)"]},
    {"type": "file", "source": files, "destination": "/opt/app"},
    {"type": "shell", "inline": ["ls -R /opt/app | wc -l", "echo done > /etc/built"]}],
  "post-processors": [{"type": "manifest", "output": "manifest.json"}]}, indent=1))
PY
}

# run TOOL N DIR: one build of the N-builder template; prints seconds.
run() {
  local tool=$1 n=$2 dir=$3 bin
  mkdir -p "$dir"
  template "$n" > "$dir/t.json"
  [ "$tool" = kiln ] && bin=$KILN || bin=packer
  local start end
  start=$(date +%s.%N)
  if ! (cd "$dir" && CHECKPOINT_DISABLE=1 KILN_NO_LIVE=1 "$bin" build -color=false \
        -parallel-builds="$n" t.json >"$dir/out.log" 2>&1); then
    echo "error: $tool build failed, see below" >&2; tail -20 "$dir/out.log" >&2; exit 1
  fi
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.3f}')"
}

median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.3f}')" "$@"; }
mean() { python3 -c "import statistics,sys; print(f'{statistics.mean(map(float, sys.argv[1:])):.3f}')" "$@"; }

declare -A single
declare -A runs
declare -A means
tools=(kiln)
[ "$SKIP_PACKER" = 1 ] || tools+=(packer)
# The engine's floor in the same run: the same work as raw API calls
# (bench/docker_floor.py), with nothing of either tool in between. Every
# round runs each tool and both floors once, so a slow spell of the engine
# lands on all of them alike instead of on one tool's runs. (On
# fuse-overlayfs the engine's commit sleeps until the wall-clock second
# after its diff began, so a commit takes 0.15 s to 1 s depending on when
# in the second it starts: single runs swing, medians need several.)
# jitter: a random pause (untimed) before each run, so that runs do not
# lock onto one point of the second and the medians see the whole range.
jitter() { sleep "0.$(printf '%03d' $((RANDOM % 1000)))"; }
for i in $(seq "$RUNS"); do
  for tool in "${tools[@]}"; do
    jitter
    runs[$tool]+=" $(run "$tool" 1 "$work/$tool-single-$i")"
  done
  jitter
  runs[floor]+=" $(python3 bench/docker_floor.py "$work/files" "$BASE")"
  jitter
  runs[ofloor]+=" $(python3 bench/docker_floor.py "$work/files" "$BASE" --overlap)"
done
for tool in "${tools[@]}"; do
  # shellcheck disable=SC2086
  single[$tool]=$(median ${runs[$tool]})
  # shellcheck disable=SC2086
  means[$tool]=$(mean ${runs[$tool]})
  echo "single build   $tool: ${single[$tool]} s, mean ${means[$tool]} s (runs:${runs[$tool]})"
done
# shellcheck disable=SC2086
floor=$(median ${runs[floor]})
# shellcheck disable=SC2086
ofloor=$(median ${runs[ofloor]})
echo "single build   engine floor: $floor s (runs:${runs[floor]})"
echo "single build   engine floor, kiln's way (scripts on exec stdin, killed during the commit): $ofloor s (runs:${runs[ofloor]})"

declare -A many
for tool in "${tools[@]}"; do
  many[$tool]=$(run "$tool" "$PARALLEL" "$work/$tool-parallel")
  echo "$PARALLEL parallel $tool: ${many[$tool]} s"
done

# The engine's own scaling: $PARALLEL floors (kiln's way) at once, against
# one such floor.
start=$(date +%s.%N)
for i in $(seq "$PARALLEL"); do python3 bench/docker_floor.py "$work/files" "$BASE" --overlap >/dev/null & done
wait
end=$(date +%s.%N)
many_floor=$(python3 -c "print(f'{$end - $start:.3f}')")
echo "$PARALLEL parallel engine floor: $many_floor s"

echo
echo "== docker builder: $PARALLEL parallel builds, $RUNS runs for the single build =="
for tool in "${tools[@]}"; do
  python3 - "$tool" "${single[$tool]}" "${many[$tool]}" "$PARALLEL" <<'PY'
import sys
tool, one, many, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print(f"{tool:6}  1 build: {one:7.3f} s   {n} builds: {many:7.3f} s   "
      f"per build: {many / n:6.3f} s   scaling: {n * one / many:5.2f}x of {n} (ideal {n}x)")
PY
done
if [ "$SKIP_PACKER" != 1 ]; then
  python3 - "${single[kiln]}" "${single[packer]}" "${many[kiln]}" "${many[packer]}" "$PARALLEL" "${means[kiln]}" "${means[packer]}" <<'PY'
import sys
k1, p1, kn, pn, n, km, pm = map(float, sys.argv[1:])
met = "met" if p1 / k1 >= 2 else "NOT met"
print(f"kiln vs packer: single build {p1 / k1:.2f}x faster by medians, {pm / km:.2f}x by means "
      f"(target >= 2x: {met}), {int(n)} parallel builds {pn / kn:.2f}x faster")
PY
fi
python3 - "${single[kiln]}" "$floor" "${single[packer]:-0}" "${many[kiln]}" "$many_floor" "$PARALLEL" "$ofloor" <<'PY'
import sys
k1, f, p1, kn, fn, n, of = map(float, sys.argv[1:])
print(f"engine floor (kiln's way): {n:.0f} at once {fn:.3f} s, scaling {n * of / fn:.2f}x of {n:.0f} "
      f"(the engine's own); kiln's {n:.0f} parallel builds {kn / fn:.2f}x the floor")
line = f"engine floor {f:.3f} s: kiln single build {k1 / f:.2f}x the floor"
if p1:
    line += f"; packer / floor = {p1 / f:.2f}x"
print(line)
line = f"engine floor, kiln's way {of:.3f} s: kiln {k1 / of:.2f}x of it"
if p1:
    line += f"; packer / that floor = {p1 / of:.2f}x, the most a client making these calls could be faster than packer"
print(line)
PY
