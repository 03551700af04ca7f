"""HCL2 evaluation as templates grow: `validate` of a template with N locals
(each referring to one or two earlier locals, through `upper()` or a string
template), for N up to 100,000. kiln evaluates locals as one dependency
graph, each local once, so its time per local should stay flat as N grows;
packer 1.6.6 runs on the same templates, side by side, up to --packer-max.

Prints, per N: kiln's median wall time over --runs runs, the time per
local, kiln's growth against the smallest N (1.0 = linear), and a floor
measured in the same run: kiln on N constant locals (`lN = "vN"`, nothing to
resolve), so the ratio shows what the references cost beyond reading N
attributes. packer 1.6.6 runs on both templates; it cannot evaluate locals
that refer to locals declared in another order than it happens to try them
(its HCL2 retries a bounded number of passes), and the table says so.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


def template(n, flat=False):
    rng = random.Random(n)
    lines = ["locals {", '  l0 = "x"']
    for i in range(1, n):
        j, k = rng.randrange(i), rng.randrange(i)
        if flat:
            lines.append('  l%d = "v%d"' % (i, i))
        elif i % 10 == 0:
            lines.append('  l%d = "${local.l%d}-${local.l%d}"' % (i, j, k))
        else:
            lines.append("  l%d = upper(local.l%d)" % (i, j))
    lines += [
        "}",
        'source "null" "a" {',
        '  communicator = "none"',
        "}",
        "build {",
        '  sources = ["source.null.a"]',
        "}",
        "",
    ]
    return "\n".join(lines)


def timed(argv, env, cwd, timeout):
    start = time.monotonic()
    try:
        r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out after %ds" % timeout
    took = time.monotonic() - start
    if r.returncode != 0:
        return None, (r.stdout + r.stderr).strip().splitlines()[-1:]
    return took, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="numbers of locals")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per tool and size")
    ap.add_argument("--packer-max", type=int, default=10000, help="largest N given to packer")
    ap.add_argument("--timeout", type=int, default=300, help="seconds before a run is abandoned")
    ap.add_argument("--skip-packer", action="store_true")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    kiln = benchlib.kiln_binary()
    packer = None if a.skip_packer else benchlib.packer_binary()
    work = tempfile.mkdtemp(prefix="kiln-bench-locals.")
    rows = []
    base = None
    for n in sizes:
        paths = {}
        for kind in ("refs", "flat"):
            paths[kind] = os.path.join(work, "%s%d.pkr.hcl" % (kind, n))
            with open(paths[kind], "w") as f:
                f.write(template(n, flat=(kind == "flat")))
        times = {("kiln", "refs"): [], ("kiln", "flat"): [], ("packer", "refs"): [], ("packer", "flat"): []}
        notes = {}
        for _ in range(a.runs):
            for kind in ("refs", "flat"):
                t, err = timed([kiln, "validate", paths[kind]], benchlib.kiln_env(), work, a.timeout)
                if err:
                    sys.exit("error: kiln failed at N=%d (%s): %s" % (n, kind, err))
                times[("kiln", kind)].append(t)
                if packer and n <= a.packer_max:
                    t, err = timed([packer, "validate", paths[kind]], benchlib.packer_env(), work, a.timeout)
                    if err:
                        notes[kind] = " ".join(err) if isinstance(err, list) else err
                    else:
                        times[("packer", kind)].append(t)
        med = {key: (benchlib.median(v) if v else None) for key, v in times.items()}
        k = med[("kiln", "refs")]
        per = k / n * 1e6
        if base is None:
            base = per
        rows.append((n, k, per, per / base, med[("kiln", "flat")], med[("packer", "refs")], med[("packer", "flat")], notes))
        benchlib.log("N=%d done" % n)

    def cell(x):
        return "%10.3f" % x if x is not None else "%10s" % "-"

    print("%8s  %10s  %11s  %7s  %10s  %9s  %10s  %10s" % (
        "locals", "kiln s", "us/local", "growth", "floor s", "kiln/flr", "packer s", "pk flat s"))
    for n, k, per, growth, floor, p, pflat, notes in rows:
        print("%8d  %s  %11.1f  %7.2f  %s  %8.2fx  %s  %s" % (
            n, cell(k), per, growth, cell(floor), k / floor, cell(p), cell(pflat)))
        for kind, note in notes.items():
            print("          packer (%s): failed: %s" % (kind, note))
    print("growth: kiln's time per local against N=%d (1.00 = linear)" % sizes[0])


if __name__ == "__main__":
    main()
