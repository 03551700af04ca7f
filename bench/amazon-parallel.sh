#!/usr/bin/env bash
# Benchmark: $N parallel amazon-ebs builds (communicator `none`) against one
# moto EC2 server on loopback, kiln (one process) vs Debian's packer 1.6.6,
# side by side in one run. Each build does Packer's whole flow: source AMI
# lookup, temporary key pair and security group, run instance, stop,
# create image, cleanup. Prints wall time and peak memory (GNU time's
# maximum RSS) of both and the ratios, and checks that every build made
# its AMI and left no temporary resource behind.
#   usage: bench/amazon-parallel.sh   (env: N=100 SKIP_PACKER=0 SKIP_KILN=0 KILN= PACKER=
#          KEEP=1 keeps the work directory, PROFILE=1 see below)
# Each tool's line also gives its CPU time and the CPU time moto spent
# serving it (moto, one Python process, is what limits both tools here).
# PROFILE=1 records every request moto serves (its recorder) and prints the
# EC2 requests per build by action for each tool; kiln also runs with
# `-events=json`, and where a kiln build's time goes is printed (mean ms
# after each step or message). Recording costs moto time, so wall times of
# a profiled run are not the benchmark's figures.
# Needs moto in the venv and GNU time (./scripts/install-deps.sh); builds
# kiln in release mode unless KILN is given.
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-100}
SKIP_PACKER=${SKIP_PACKER:-0}
SKIP_KILN=${SKIP_KILN:-0}
PROFILE=${PROFILE:-0}
PACKER=${PACKER:-packer}
VENV=${KILN_MOTO_VENV:-$HOME/.cache/kiln/moto-venv}
[ -x "$VENV/bin/moto_server" ] || { echo "error: moto is not installed in $VENV; run scripts/install-deps.sh" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "error: GNU time (/usr/bin/time) is missing; run scripts/install-deps.sh" >&2; exit 1; }
if [ "$SKIP_KILN" != 1 ] && [ -z "${KILN:-}" ]; then
  cargo build --release -q --bin kiln
  KILN=${CARGO_TARGET_DIR:-$PWD/target}/release/kiln
fi

work=$(mktemp -d /tmp/kiln-bench-amazon.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# moto's source image, its warm-up, the template and the check are shared
# with amazon-scale.sh (bench/benchlib.py).
"$VENV/bin/python" bench/benchlib.py base-amis "$work/amis.json"
MOTO_RECORDER_FILEPATH=$work/requests.jsonl MOTO_AMIS_PATH=$work/amis.json "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
cleanup() { kill "$moto" 2>/dev/null || true; wait "$moto" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 600); do
  (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  sleep 0.1
done

export AWS_ACCESS_KEY_ID=AKIDKILNBENCH AWS_SECRET_ACCESS_KEY=kiln-bench-secret AWS_EC2_METADATA_DISABLED=true
py() { "$VENV/bin/python" - "$port" "$@"; }

# Warm moto up (its EC2 backend loads lazily, ~2 s), so neither tool pays
# for it: one instance launched, imaged and terminated through boto3.
"$VENV/bin/python" bench/benchlib.py warm-up "http://127.0.0.1:$port"

# recorder ACTION: moto's request recorder (PROFILE=1).
recorder() {
  py "$1" <<'PY'
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(
    f"http://127.0.0.1:{sys.argv[1]}/moto-api/recorder/{sys.argv[2]}", data=b"", method="POST")).read()
PY
}

# template TOOL: N amazon-ebs builders named a001..aNNN.
template() { python3 bench/benchlib.py amazon-template "$1" "$N" "http://127.0.0.1:$port"; }

# check TOOL: AMIs made and temporary resources left in moto.
check() { "$VENV/bin/python" bench/benchlib.py amazon-check "http://127.0.0.1:$port" "$1"; }

# cpu PID: the CPU seconds (user + system) process PID has used.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }

declare -A wall rss code tree mcpu
# packer runs first: moto gets slower as it holds more objects, so kiln
# runs on the fuller server, which can only understate kiln's lead.
tools=()
[ "$SKIP_PACKER" = 1 ] || tools+=(packer)
[ "$SKIP_KILN" = 1 ] || tools+=(kiln)
for tool in "${tools[@]}"; do
  dir=$work/$tool
  mkdir -p "$dir"
  template "$tool" >"$dir/t.json"
  [ "$tool" = kiln ] && bin=$KILN || bin=$PACKER
  extra=()
  [ "$PROFILE" = 1 ] && [ "$tool" = kiln ] && extra=(-events=json)
  if [ "$PROFILE" = 1 ]; then recorder reset-recording; recorder start-recording; fi
  m0=$(cpu "$moto")
  # GNU time gives the wall time and the largest single process's peak RSS;
  # benchlib samples the summed RSS of the whole process tree (packer runs
  # one plugin process per build).
  read -r code[$tool] tree[$tool] procs < <(python3 - "$dir" "$bin" "$N" "${extra[@]}" <<'PY'
import os, sys
sys.path.insert(0, "bench")
import benchlib
d, b, n, *extra = sys.argv[1:]
benchlib.become_subreaper()
env = dict(os.environ, CHECKPOINT_DISABLE="1", KILN_NO_LIVE="1")
with open(os.path.join(d, "out.log"), "w") as out:
    r = benchlib.run_sampled(["/usr/bin/time", "-o", os.path.join(d, "time"), "-f", "%e %M %U %S", b,
                              "build", "-color=false", f"-parallel-builds={n}", *extra, "t.json"], d, env, out)
print(r.exit_code, r.peak_rss // 1024, r.peak_procs)
PY
)
  read -r wall[$tool] rss[$tool] usr sys < <(tail -1 "$dir/time")
  mcpu[$tool]=$(awk -v a="$m0" -v b="$(cpu "$moto")" 'BEGIN { print b - a }')
  if [ "$PROFILE" = 1 ]; then recorder stop-recording; cp "$work/requests.jsonl" "$dir/requests.jsonl"; fi
  read -r amis kps sgs live < <(check "$tool")
  printf '%-6s exit %d  wall %7.2f s  peak RSS (GNU time, largest process) %7.1f MB  peak tree RSS %8.1f MB (%d processes)\n' \
    "$tool" "${code[$tool]}" "${wall[$tool]}" "$(awk "BEGIN { print ${rss[$tool]} / 1024 }")" \
    "$(awk "BEGIN { print ${tree[$tool]} / 1024 }")" "$procs"
  printf '       AMIs %d/%d  leftover key pairs %d, security groups %d, running instances %d\n' \
    "$amis" "$N" "$kps" "$sgs" "$live"
  printf '       CPU: %s %.2f s (user + system, with its child processes), moto %.2f s\n' "$tool" "$(awk "BEGIN { print $usr + $sys }")" "${mcpu[$tool]}"
  if [ "$tool" = kiln ] && { [ "${code[$tool]}" != 0 ] || [ "$amis" != "$N" ] || [ "$kps$sgs$live" != 000 ]; }; then
    echo "error: the kiln run failed or left resources behind; last lines of its log:" >&2
    tail -20 "$dir/out.log" >&2
    exit 1
  fi
  if [ "$tool" = packer ] && [ "${code[$tool]}" != 0 ]; then
    echo "packer's last lines:"; tail -5 "$dir/out.log"
  fi
done

if [ "$PROFILE" = 1 ]; then
  python3 - "$work" "$N" "${tools[@]}" <<'PY'
import base64, collections, json, os, sys, urllib.parse
work, n, tools = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
counts = {}
for t in tools:
    c = counts[t] = collections.Counter()
    with open(os.path.join(work, t, "requests.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            body = base64.b64decode(r["body"]) if r.get("body_encoded") else (r.get("body") or "").encode()
            q = urllib.parse.parse_qs(body.decode(errors="replace"))
            q.update(urllib.parse.parse_qs(urllib.parse.urlparse(r["url"]).query))
            c[q.get("Action", ["?"])[0]] += 1
print(f"EC2 requests per build (N={n}):")
print(f"  {'action':<34}" + "".join(f"{t:>9}" for t in tools))
for a in sorted(set().union(*counts.values())):
    print(f"  {a:<34}" + "".join(f"{counts[t][a] / n:9.2f}" for t in tools))
print(f"  {'total':<34}" + "".join(f"{sum(counts[t].values()) / n:9.2f}" for t in tools))
if "kiln" in tools:
    # Where a kiln build's time goes, from its JSON events: each gap between
    # two events of one build is charged to the first (a step's start, or a
    # message with its ids masked), averaged over the builds.
    import datetime, re
    per = collections.defaultdict(list)
    with open(os.path.join(work, "kiln", "out.log")) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e, dict) and e.get("build") and e.get("time"):
                per[e["build"]].append(e)
    def label(e):
        if e["type"] == "step":
            return "[step] " + e["step"]
        if e["type"] == "ui" and e.get("message", "").startswith("Build '"):
            return "[build finished]"
        if e["type"] == "ui":
            m = re.sub(r"(ami|i|sg|vol|snap|r)-[0-9a-f]+|packer_[0-9a-f-]+|" + re.escape(e["build"]), "<id>",
                       re.sub(r"^\s*(==> )?" + re.escape(e["build"]) + ": ", "", e.get("message", "")))
            return m.strip().splitlines()[0][:60] if m.strip() else "(empty)"
        return "[" + e["type"] + "]"
    order, spent = [], collections.defaultdict(float)
    totals = []
    for evs in per.values():
        ts = [datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp() for e in evs]
        totals.append(ts[-1] - ts[0])
        for e, t0, t1 in zip(evs, ts, ts[1:]):
            l = label(e)
            if l not in spent:
                order.append(l)
            spent[l] += (t1 - t0) * 1000
    if per:
        print(f"kiln: mean build {sum(totals) / len(totals) * 1000:.0f} ms; mean ms per build after each event:")
        for l in order:
            print(f"  {spent[l] / len(per):8.1f}  {l}")
PY
fi

if [ "$SKIP_PACKER" != 1 ] && [ "$SKIP_KILN" != 1 ]; then
  python3 - "${wall[kiln]}" "${wall[packer]}" "${rss[kiln]}" "${rss[packer]}" "${tree[kiln]}" "${tree[packer]}" <<'PY'
import sys
kw, pw, kr, pr, kt, pt = map(float, sys.argv[1:])
t, m, mt = pw / kw, pr / kr, pt / kt
print(f"packer/kiln: wall {t:.2f}x (target >= 3x: {'PASS' if t >= 3 else 'MISS'}), "
      f"peak tree RSS {mt:.2f}x (target >= 10x: {'PASS' if mt >= 10 else 'MISS'}), "
      f"GNU time peak RSS (largest process) {m:.2f}x")
PY
fi
