#!/usr/bin/env python3
"""`validate` latency: kiln vs packer 1.6.6 on a realistic legacy template.

Writes a template with user variables (defaults, env, sensitive), three
builders (two `file`, one `null`), four provisioners (shell-local inline,
script and environment_vars, `sleep` restricted with `only`, a disabled
`breakpoint`) and post-processors (checksum, a compress -> artifice chain,
manifest, shell-local), plus a `-var-file`, into a fresh temporary
directory, checks that both tools accept it, then runs

    kiln   validate -var-file=vars.json -var region=eu template.json
    packer validate -var-file=vars.json -var region=eu template.json

N times each (interleaved, after warm-up runs) and prints the median, p90,
min and max wall time of each and the packer/kiln ratios.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


TEMPLATE = {
    "description": "Realistic legacy template for validate latency",
    "min_packer_version": "1.5.0",
    "variables": {
        "app": "kiln-bench",
        "version": "1.2.3",
        "region": "us",
        "home": "{{env `HOME`}}",
        "api_token": "s3cr3t",
        "out_dir": "dist",
    },
    "sensitive-variables": ["api_token"],
    "builders": [
        {
            "type": "file",
            "name": "config",
            "content": "app={{user `app`}}\nversion={{user `version`}}\nregion={{user `region`}}\n",
            "target": "{{user `out_dir`}}/app.conf",
        },
        {
            "type": "file",
            "name": "motd",
            "content": "Welcome to {{user `app`}} {{user `version`}}, built {{isotime \"2006-01-02\"}}\n",
            "target": "{{user `out_dir`}}/motd.txt",
        },
        {"type": "null", "name": "smoke", "communicator": "none"},
    ],
    "provisioners": [
        {
            "type": "shell-local",
            "inline": [
                "echo building $PACKER_BUILD_NAME ({{build_type}}) for {{user `region`}}",
                "test -n \"$APP\"",
            ],
            "environment_vars": ["APP={{user `app`}}", "VERSION={{user `version`}}",
                                 "TOKEN={{user `api_token`}}"],
        },
        {
            "type": "shell-local",
            "script": "scripts/setup.sh",
            "environment_vars": ["REGION={{user `region`}}"],
            "except": ["smoke"],
        },
        {"type": "sleep", "duration": "10ms", "only": ["smoke"]},
        {"type": "breakpoint", "disable": True, "note": "inspect the build here"},
    ],
    "post-processors": [
        {
            "type": "checksum",
            "checksum_types": ["sha256", "md5"],
            "output": "{{user `out_dir`}}/{{.BuildName}}.{{.ChecksumType}}",
            "except": ["smoke"],
        },
        [
            {
                "type": "compress",
                "output": "{{user `out_dir`}}/{{.BuildName}}-{{user `version`}}.tar.gz",
                "compression_level": 6,
                "keep_input_artifact": True,
                "only": ["config"],
            },
            {
                "type": "artifice",
                "files": ["{{user `out_dir`}}/config-{{user `version`}}.tar.gz"],
                "keep_input_artifact": True,
            },
        ],
        {
            "type": "manifest",
            "output": "{{user `out_dir`}}/manifest.json",
            "strip_path": True,
            "custom_data": {"app": "{{user `app`}}", "version": "{{user `version`}}"},
        },
        {
            "type": "shell-local",
            "inline": ["echo post-processed {{build_name}}"],
            "environment_vars": ["OUT={{user `out_dir`}}"],
        },
    ],
}

VAR_FILE = {"version": "2.0.0", "out_dir": "build-output"}
SETUP_SH = "#!/bin/sh\nset -e\necho setting up for \"$REGION\"\n"


def prepare(work):
    os.makedirs(os.path.join(work, "scripts"))
    with open(os.path.join(work, "template.json"), "w") as f:
        json.dump(TEMPLATE, f, indent=2)
    with open(os.path.join(work, "vars.json"), "w") as f:
        json.dump(VAR_FILE, f, indent=2)
    with open(os.path.join(work, "scripts", "setup.sh"), "w") as f:
        f.write(SETUP_SH)
    os.chmod(os.path.join(work, "scripts", "setup.sh"), 0o755)


def once(argv, cwd, env):
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return time.perf_counter() - t0, r.returncode, r.stdout.decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--iterations", type=int, default=20,
                    help="timed runs per tool (default 20)")
    ap.add_argument("--warmup", type=int, default=2,
                    help="untimed runs per tool first (default 2)")
    ap.add_argument("--skip-packer", action="store_true", help="time kiln only")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if args.iterations < 1:
        ap.error("--iterations must be positive")

    kiln = bl.kiln_binary()
    packer = None if args.skip_packer else bl.packer_binary()
    flags = ["validate", "-var-file=vars.json", "-var", "region=eu", "template.json"]
    tools = [("kiln", [kiln] + flags, bl.kiln_env())]
    if packer:
        tools.append(("packer", [packer] + flags, bl.packer_env()))

    status = 0
    # One directory per tool so neither sees the other's leftovers.
    dirs = {}
    for label, argv, env in tools:
        d = tempfile.mkdtemp(prefix="kiln-bench-validate-%s-" % label)
        prepare(d)
        dirs[label] = d
        _, code, out = once(argv, d, env)
        if code != 0:
            print("%s validate failed (exit %d):\n%s" % (label, code, out.rstrip()))
            status = 1
        for _ in range(args.warmup - 1):
            once(argv, d, env)

    times = {label: [] for label, _, _ in tools}
    codes = {label: set() for label, _, _ in tools}
    if status == 0:
        for _ in range(args.iterations):
            for label, argv, env in tools:  # interleaved: noise hits both alike
                t, code, _ = once(argv, dirs[label], env)
                times[label].append(t)
                codes[label].add(code)

    print("validate-latency: %d timed runs per tool after %d warm-up, %d CPUs" % (
        args.iterations, args.warmup, os.cpu_count() or 0))
    print("  template: 3 builders, 4 provisioners, 4 post-processor entries (one a chain), "
          "6 variables, -var-file, -var")
    for label, argv, _ in tools:
        xs = [x * 1000 for x in times[label]]
        if not xs:
            continue
        print("  %-6s median %8.2f ms   p90 %8.2f ms   min %8.2f ms   max %8.2f ms   exit %s   (%s)" % (
            label, bl.median(xs), bl.percentile(xs, 90), min(xs), max(xs),
            ",".join(str(c) for c in sorted(codes[label])), argv[0]))
        if codes[label] != {0}:
            status = 1
    if packer and times["kiln"] and times["packer"]:
        k, p = times["kiln"], times["packer"]
        print("  ratio  packer/kiln: median %.1fx, p90 %.1fx" % (
            bl.ratio(bl.median(p), bl.median(k)),
            bl.ratio(bl.percentile(p, 90), bl.percentile(k, 90))))

    for d in dirs.values():
        if args.keep:
            print("  kept: %s" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
