#!/usr/bin/env python3
"""`validate` of a large HCL2 template: kiln vs packer 1.6.6.

Writes a directory template split over three files: 100 variables (typed,
with defaults), 200 locals (each using variables, other locals and
functions: format, upper, join, length, lookup, merge), 50 `null` sources
and one `build` over all of them with a `shell-local` provisioner, plus an
`*.auto.pkrvars.hcl` file. Then runs `validate DIR` N times per tool
(interleaved, after warm-up runs) and prints median, p90, min and max wall
time and the packer/kiln ratio. The target in issue #3 is kiln at least
20x faster.

Packer 1.6.6 supports HCL2 only partially. If it cannot validate the HCL2
directory, the script says so and times packer on the JSON equivalent (50
`null` builders, 100 user variables; JSON has no locals), which is less
work for packer than the HCL2 template is for kiln.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

N_SOURCES, N_LOCALS, N_VARS = 50, 200, 100


def hcl_files():
    v = []
    for i in range(N_VARS):
        if i % 3 == 0:
            v.append('variable "v%03d" {\n  type    = string\n  default = "value-%d"\n}\n' % (i, i))
        elif i % 3 == 1:
            v.append('variable "v%03d" {\n  type    = number\n  default = %d\n}\n' % (i, i))
        else:
            v.append('variable "v%03d" {\n  type    = list(string)\n  default = ["a%d", "b%d"]\n}\n' % (i, i, i))
    loc = ["locals {"]
    for i in range(N_LOCALS):
        a = (i * 7) % N_VARS
        if i == 0:
            loc.append('  l000 = format("%s-%d", var.v000, var.v001)')
        elif i % 4 == 0:
            loc.append('  l%03d = upper("${local.l%03d}-${var.v%03d}")' % (i, i - 1, a - a % 3))
        elif i % 4 == 1:
            loc.append('  l%03d = join(",", var.v%03d)' % (i, a - a % 3 + 2 if a - a % 3 + 2 < N_VARS else 2))
        elif i % 4 == 2:
            loc.append('  l%03d = length(local.l%03d) + var.v%03d' % (i, i - 1, a - a % 3 + 1))
        else:
            loc.append('  l%03d = lookup(merge({ k = "x" }, { n = local.l%03d }), "n", "d")' % (i, i - 1))
    loc.append("}")
    src = []
    for i in range(N_SOURCES):
        src.append('source "null" "s%02d" {\n  communicator = "none"\n}\n' % i)
    names = ", ".join('"source.null.s%02d"' % i for i in range(N_SOURCES))
    build = ('build {\n  sources = [%s]\n\n  provisioner "shell-local" {\n'
             '    inline = ["echo ${local.l%03d} ${var.v000}"]\n  }\n}\n' % (names, N_LOCALS - 1))
    return {
        "variables.pkr.hcl": "\n".join(v),
        "locals.pkr.hcl": "\n".join(loc) + "\n",
        "sources.pkr.hcl": "\n".join(src) + "\n" + build,
        "values.auto.pkrvars.hcl": 'v000 = "from-auto"\n',
    }


def json_template():
    import json
    variables = {"v%03d" % i: "value-%d" % i for i in range(N_VARS)}
    builders = [{"type": "null", "name": "s%02d" % i, "communicator": "none"} for i in range(N_SOURCES)]
    provisioners = [{"type": "shell-local", "inline": ["echo {{user `v000`}}"]}]
    return json.dumps({"variables": variables, "builders": builders, "provisioners": provisioners}, indent=1)


def once(argv, cwd, env):
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return time.perf_counter() - t0, r.returncode, r.stdout.decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--iterations", type=int, default=10, help="timed runs per tool (default 10)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs per tool first (default 1)")
    ap.add_argument("--skip-packer", action="store_true", help="time kiln only")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if args.iterations < 1:
        ap.error("--iterations must be positive")

    work = tempfile.mkdtemp(prefix="kiln-bench-validate-hcl-")
    tpl = os.path.join(work, "tpl")
    os.makedirs(tpl)
    for name, text in hcl_files().items():
        with open(os.path.join(tpl, name), "w") as f:
            f.write(text)
    with open(os.path.join(work, "template.json"), "w") as f:
        f.write(json_template())

    kiln = bl.kiln_binary()
    tools = [("kiln", [kiln, "validate", "tpl"], bl.kiln_env(), "HCL2 directory")]
    note = None
    if not args.skip_packer:
        packer = bl.packer_binary()
        _, code, out = once([packer, "validate", "tpl"], work, bl.packer_env())
        if code == 0:
            tools.append(("packer", [packer, "validate", "tpl"], bl.packer_env(), "HCL2 directory"))
        else:
            note = ("packer 1.6.6 cannot validate the HCL2 directory (exit %d: %s); "
                    "timing packer on the JSON equivalent instead (no locals: less work for packer)"
                    % (code, next((l for l in out.splitlines() if l.startswith("Error")), "no output")))
            tools.append(("packer", [packer, "validate", "template.json"], bl.packer_env(),
                          "JSON equivalent"))

    status = 0
    for label, argv, env, _ in tools:
        _, code, out = once(argv, work, env)
        if code != 0:
            print("%s validate failed (exit %d):\n%s" % (label, code, out.rstrip()))
            status = 1
        for _ in range(args.warmup - 1):
            once(argv, work, env)

    times = {t[0]: [] for t in tools}
    if status == 0:
        for _ in range(args.iterations):
            for label, argv, env, _ in tools:  # interleaved: noise hits both alike
                t, code, _ = once(argv, work, env)
                times[label].append(t)
                if code != 0:
                    status = 1

    print("validate-hcl: %d timed runs per tool after %d warm-up, %d CPUs" % (
        args.iterations, args.warmup, os.cpu_count() or 0))
    print("  template: %d sources, %d locals, %d variables, an auto var file" % (
        N_SOURCES, N_LOCALS, N_VARS))
    if note:
        print("  note: " + note)
    for label, argv, _, what in tools:
        xs = [x * 1000 for x in times[label]]
        if xs:
            print("  %-6s median %8.2f ms   p90 %8.2f ms   min %8.2f ms   max %8.2f ms   (%s)" % (
                label, bl.median(xs), bl.percentile(xs, 90), min(xs), max(xs), what))
    if len(tools) == 2 and times["kiln"] and times["packer"]:
        k, p = times["kiln"], times["packer"]
        r = bl.ratio(bl.median(p), bl.median(k))
        print("  ratio  packer/kiln: median %.1fx (target: 20x) %s" % (r, bl.verdict(r >= 20)))

    if args.keep:
        print("  kept: %s" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
