#!/usr/bin/env python3
"""Parallel null builds: kiln vs packer 1.6.6, side by side.

Generates a legacy JSON template with N `null` builders (communicator none,
distinct names), one `shell-local` provisioner (inline `echo hi`) and one
`manifest` post-processor writing a single shared manifest.json, then runs

    kiln   build -color=false -parallel-builds=N template.json   (KILN_NO_LIVE=1)
    packer build -color=false -parallel-builds=N template.json   (CHECKPOINT_DISABLE=1)

each in its own fresh temporary directory, and reports per tool: wall time,
CPU time, peak RSS summed over the whole process tree (sampled from /proc),
the most processes seen at once, the exit code and the manifest's entries.

Exits 1 when kiln fails or its manifest does not hold N entries; timing and
memory targets only print PASS/MISS.
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # leave no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

TARGET_SPEEDUP = 40.0              # packer wall time / kiln wall time
TARGET_KILN_RSS = 100 * 1000 ** 2  # bytes ("under 100 MB" summed RSS)


def template(n):
    return {
        "builders": [
            {"type": "null", "name": "null-%03d" % i, "communicator": "none"}
            for i in range(1, n + 1)
        ],
        "provisioners": [{"type": "shell-local", "inline": ["echo hi"]}],
        "post-processors": [{"type": "manifest", "output": "manifest.json"}],
    }


def manifest_entries(path):
    """(entries, distinct build names, note)"""
    if not os.path.exists(path):
        return 0, 0, "no manifest.json"
    try:
        with open(path) as f:
            data = json.load(f)
    except ValueError as e:
        return 0, 0, "manifest.json is not valid JSON (%s)" % e
    builds = data.get("builds") or []
    names = {b.get("name") for b in builds if isinstance(b, dict)}
    return len(builds), len(names), ""


def run_tool(label, argv, env, n, args):
    work = tempfile.mkdtemp(prefix="kiln-bench-%s-" % label)
    tpl = os.path.join(work, "template.json")
    with open(tpl, "w") as f:
        json.dump(template(n), f, indent=2)
    logpath = os.path.join(work, "output.log")
    with open(logpath, "wb") as out:
        res = bl.run_sampled(argv + [tpl], cwd=work, env=env, stdout=out,
                             interval=args.interval, timeout=args.timeout)
    res.label = label
    res.work = work
    res.log = logpath
    res.entries, res.names, res.note = manifest_entries(os.path.join(work, "manifest.json"))
    with open(logpath, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    res.hi = len(re.findall(r"^.*: hi\s*$", text, re.M))
    if label == "packer" and res.entries != n and res.exit_code == 0:
        res.note = (res.note + "; " if res.note else "") + \
            "packer 1.6.6's manifest post-processor does an unlocked read-modify-write: " \
            "parallel builds overwrite each other's entries"
    if res.exit_code != 0 or (label == "kiln" and res.entries != n):
        lines = text.rstrip().splitlines()
        errs = [ln for ln in lines if re.search(r"error|fail|panic|busy", ln, re.I)]
        shown = (errs[:6] + (["... %d more error lines" % (len(errs) - 6)] if len(errs) > 6 else [])
                 if errs else lines[-8:])
        res.note = (res.note + "; " if res.note else "") + \
            ("error lines in the log:\n" if errs else "log tail:\n") + \
            "\n".join("        | " + line for line in shown)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return res


def show(res, n, keep):
    print("  %-6s wall %8.2f s   cpu %8.2f s   peak tree RSS %10s   "
          "max procs %4d   exit %s   manifest %3d/%d%s" % (
              res.label, res.wall, res.cpu, bl.fmt_mem(res.peak_rss),
              res.peak_procs, res.exit_code, res.entries, n,
              "" if res.names == res.entries else " (%d distinct names)" % res.names))
    extra = ("         shell-local 'hi' lines %d/%d, largest process %s, "
             "%d samples (sampler cpu %.2f s, %.1f ms each)") % (
        res.hi, n, bl.fmt_mem(res.peak_single), res.samples, res.sampler_cpu,
        res.sample_cost * 1000)
    if res.leftover:
        extra += ", %d processes left running (killed)" % res.leftover
    if res.timed_out:
        extra += ", TIMED OUT after %ss (killed)" % res.timeout
    print(extra)
    if res.note:
        print("         note: " + res.note)
    if keep:
        print("         kept: %s" % res.work)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--builds", type=int, default=100,
                    help="number of null builders, and -parallel-builds (default 100)")
    ap.add_argument("-r", "--runs", type=int, default=1,
                    help="repeat kiln+packer this many times and report the range (default 1)")
    ap.add_argument("--skip-packer", action="store_true",
                    help="run kiln only (no ratios)")
    ap.add_argument("--interval", type=float, default=0.02,
                    help="/proc sampling interval in seconds (default 0.02)")
    ap.add_argument("--timeout", type=float, default=900,
                    help="kill a tool's run after this many seconds (default 900)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directories (template, log, manifest)")
    args = ap.parse_args()
    n = args.builds
    if n < 1 or args.runs < 1:
        ap.error("--builds and --runs must be positive")

    subreaper = bl.become_subreaper()
    kiln = bl.kiln_binary()
    packer = None if args.skip_packer else bl.packer_binary()
    common = ["build", "-color=false", "-parallel-builds=%d" % n]

    print("parallel-null: %d null builds, -parallel-builds=%d, %d run(s); %d CPUs; "
          "sampling /proc every %g ms%s" % (
              n, n, args.runs, os.cpu_count() or 0, args.interval * 1000,
              "" if subreaper else " (no subreaper: orphans not counted)"))
    print("  kiln:   %s" % kiln)
    if packer:
        print("  packer: %s" % packer)

    kilns, packers = [], []
    for r in range(1, args.runs + 1):
        print("\nrun %d/%d" % (r, args.runs))
        k = run_tool("kiln", [kiln] + common, bl.kiln_env(), n, args)
        k.timeout = args.timeout
        show(k, n, args.keep)
        kilns.append(k)
        if packer:
            p = run_tool("packer", [packer] + common, bl.packer_env(), n, args)
            p.timeout = args.timeout
            show(p, n, args.keep)
            packers.append(p)
            print("  ratio  packer/kiln: time %.1fx, cpu %.1fx, summed RSS %.1fx" % (
                bl.ratio(p.wall, k.wall), bl.ratio(p.cpu, k.cpu),
                bl.ratio(p.peak_rss, k.peak_rss)))

    def rng(xs, fmt):
        if len(xs) == 1:
            return fmt(xs[0])
        return "%s (min %s, max %s)" % (fmt(bl.median(xs)), fmt(min(xs)), fmt(max(xs)))

    secs = lambda x: "%.2f s" % x  # noqa: E731
    times = lambda x: "%.1fx" % x  # noqa: E731
    ints = lambda x: "%d" % x      # noqa: E731
    print("\nsummary (%s over %d run(s))" % ("median" if args.runs > 1 else "value", args.runs))
    for label, rs in (("kiln", kilns), ("packer", packers)):
        if not rs:
            continue
        print("  %-6s wall %s; cpu %s; peak tree RSS %s; max procs %s; manifest entries %s" % (
            label, rng([x.wall for x in rs], secs), rng([x.cpu for x in rs], secs),
            rng([x.peak_rss for x in rs], bl.fmt_mem),
            rng([x.peak_procs for x in rs], ints), rng([x.entries for x in rs], ints)))

    speed = [bl.ratio(p.wall, k.wall) for k, p in zip(kilns, packers)]
    if speed:
        mem = [bl.ratio(p.peak_rss, k.peak_rss) for k, p in zip(kilns, packers)]
        print("  ratio  packer/kiln wall time %s; summed RSS %s" % (rng(speed, times), rng(mem, times)))

    print("\ntargets")
    worst_rss = max(k.peak_rss for k in kilns)
    if speed:
        print("  [%s] kiln >= %gx faster than packer (wall): %s" % (
            bl.verdict(min(speed) >= TARGET_SPEEDUP), TARGET_SPEEDUP,
            rng(speed, times) if len(speed) == 1 else "worst %.1fx, median %.1fx" % (min(speed), bl.median(speed))))
    else:
        print("  [----] kiln >= %gx faster than packer: not measured (--skip-packer)" % TARGET_SPEEDUP)
    print("  [%s] kiln summed RSS < 100 MB: worst %.1f MB (%s)" % (
        bl.verdict(worst_rss < TARGET_KILN_RSS), worst_rss / 1e6, bl.fmt_mem(worst_rss)))
    bad = [k for k in kilns if k.entries != n or k.exit_code != 0]
    print("  [%s] kiln manifest has all %d entries and exit code 0 in every run (correctness)" % (
        "PASS" if not bad else "FAIL", n))
    if bad:
        print("\nFAIL: kiln produced %s" % ", ".join(
            "%d entries / exit %s" % (k.entries, k.exit_code) for k in bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
