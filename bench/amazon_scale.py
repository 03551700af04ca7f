#!/usr/bin/env python3
"""amazon-ebs at scale: N (1,000) concurrent builds in one kiln process
against one moto EC2 server, and packer 1.6.6 at --packer-n (100) on the same
server with the same template, for the ratio (packer cannot run 1,000 here:
about 3,000 processes).

Runs, in this order, on one moto (it gets slower as it fills, so kiln always
runs on the fuller server): packer at --packer-n, kiln at --packer-n, kiln
at N. Each run builds a template of amazon-ebs builders (communicator
`none`, AMIs named bench-<run>-a0001…, a `manifest` post-processor) with
`-parallel-builds` equal to its size, and reports: wall time; peak RSS and
peak open file descriptors of the tool's whole process tree (sampled from
/proc/<pid>/stat and /proc/<pid>/fd every 50 ms); the EC2 requests moto
served during the run (the access lines in moto's log) per build; how many
builds succeeded; and the leaks, counted through EC2's API against an
inventory taken just before the run: instances not terminated, key pairs,
security groups, VPCs, subnets, addresses, volumes, snapshots, and images
that the manifest does not record (with their snapshots, the AMIs it does
record are the builds' results).

Then the packer/kiln ratios at --packer-n and the verdict for kiln at N:
every build succeeds, no leak, peak RSS under 250 MB. Exits 1 when a kiln
build fails or leaks; the RSS target only prints PASS/MISS.

Runs under the moto venv's python (boto3); bench/amazon-scale.sh does that.
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

TARGET_KILN_RSS = 250 * 1000 ** 2  # bytes ("under 250 MB" peak RSS)
ERRORED = re.compile(r"Build '([^']+)' errored")


class Run:
    """What one tool's run at one size produced."""

    def __init__(self, label, n):
        self.label, self.n = label, n
        self.res = None
        self.requests = 0
        self.moto_cpu = 0.0
        self.errored = 0
        self.amis = 0
        self.manifest = 0
        self.manifest_note = ""
        self.leaks = {}

    def ok(self):
        return (self.res.exit_code == 0 and self.errored == 0 and self.amis == self.n
                and self.manifest == self.n)

    def leaked(self):
        return sum(len(v) for v in self.leaks.values())


def run(moto, work, label, exe, n, env, timeout):
    r = Run(label, n)
    d = os.path.join(work, label)
    os.makedirs(d)
    with open(os.path.join(d, "t.json"), "w") as f:
        json.dump(bl.amazon_template(label, n, moto.endpoint, manifest=True), f, indent=1)
    c = moto.client()
    before = bl.ec2_inventory(c)
    q0, m0 = moto.requests(), moto.cpu()
    bl.log("bench: %s: %d builds" % (label, n))
    with open(os.path.join(d, "out.log"), "w") as out:
        r.res = bl.run_sampled([exe, "build", "-color=false", "-parallel-builds=%d" % n, "t.json"],
                               d, env, out, interval=0.05, timeout=timeout, count_fds=True,
                               exclude={moto.proc.pid})
    r.requests, r.moto_cpu = moto.requests() - q0, moto.cpu() - m0
    after = bl.ec2_inventory(c)
    with open(os.path.join(d, "out.log"), errors="replace") as f:
        r.errored = len({m.group(1) for m in ERRORED.finditer(f.read())})
    r.amis = sum(1 for i in after["images"] if i not in set(before["images"])
                 and after["image_names"][i].startswith("bench-%s-" % label))
    kept, r.manifest_note = bl.manifest_amis(os.path.join(d, "manifest.json"))
    r.manifest = len(kept)
    r.leaks = bl.ec2_leaks(before, after, set(kept))
    return r


def report(r):
    x = r.res
    print("%-11s exit %d  wall %7.2f s  peak RSS %7.1f MB  peak fds %5d  processes %d  "
          "requests %d (%.2f per build)  CPU %.2f s, moto %.2f s"
          % (r.label, x.exit_code, x.wall, x.peak_rss / 1e6, x.peak_fds, x.peak_procs,
             r.requests, r.requests / r.n, x.cpu, r.moto_cpu))
    print("            builds errored %d, AMIs made %d/%d, manifest records %d%s%s"
          % (r.errored, r.amis, r.n, r.manifest, " (%s)" % r.manifest_note if r.manifest_note else "",
             "  TIMED OUT" if x.timed_out else ""))
    print("            leaks: " + ", ".join("%s %d" % (k.replace("_", " "), len(v)) for k, v in r.leaks.items())
          + " (images: not in the manifest)  total %d" % r.leaked())
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=int(os.environ.get("N", 1000)), help="kiln's builds (1000; env N)")
    ap.add_argument("--packer-n", type=int, default=int(os.environ.get("PACKER_N", 100)),
                    help="packer's builds, and kiln's for the ratio (100; env PACKER_N)")
    ap.add_argument("--skip-packer", action="store_true", default=os.environ.get("SKIP_PACKER") == "1",
                    help="run kiln at N only (env SKIP_PACKER=1)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per run before it is killed")
    ap.add_argument("--keep", action="store_true", default=bool(os.environ.get("KEEP")),
                    help="keep the work directory (templates, logs, manifests, moto.log)")
    a = ap.parse_args()

    kiln = bl.kiln_binary()
    packer = None if a.skip_packer else bl.packer_binary()
    env = dict(os.environ, KILN_NO_LIVE="1", CHECKPOINT_DISABLE="1", **bl.AWS_ENV)
    bl.become_subreaper()
    work = tempfile.mkdtemp(prefix="kiln-bench-amazon-scale.")
    moto = bl.Moto(work)
    print("load before: %.2f %.2f %.2f" % os.getloadavg())
    try:
        runs = []
        if packer:
            runs.append(run(moto, work, "packer%d" % a.packer_n, packer, a.packer_n, env, a.timeout))
            report(runs[-1])
            runs.append(run(moto, work, "kiln%d" % a.packer_n, kiln, a.packer_n, env, a.timeout))
            report(runs[-1])
        big = run(moto, work, "kiln%d" % a.n, kiln, a.n, env, a.timeout)
        report(big)
        print("load after: %.2f %.2f %.2f" % os.getloadavg())
        if packer:
            p, k = runs
            print("packer/kiln at N=%d: wall %.2fx, peak RSS %.1fx, peak fds %.1fx, requests per build %.2f / %.2f"
                  % (a.packer_n, p.res.wall / k.res.wall, p.res.peak_rss / k.res.peak_rss,
                     p.res.peak_fds / max(k.res.peak_fds, 1), p.requests / p.n, k.requests / k.n))
            print("builds per second: packer at %d %.2f, kiln at %d %.2f, kiln at %d %.2f"
                  % (p.n, p.n / p.res.wall, k.n, k.n / k.res.wall, big.n, big.n / big.res.wall))
        ok, clean, small = big.ok(), big.leaked() == 0, big.res.peak_rss < TARGET_KILN_RSS
        print("verdict (kiln, %d builds): every build succeeds %s, leaks 0 %s, peak RSS %.1f MB < 250 MB %s: %s"
              % (big.n, bl.verdict(ok), bl.verdict(clean), big.res.peak_rss / 1e6, bl.verdict(small),
                 bl.verdict(ok and clean and small)))
        bad = [r for r in runs + [big] if r.label.startswith("kiln") and not (r.ok() and r.leaked() == 0)]
        for r in bad:
            print("error: %s failed or leaked; last lines of its log:" % r.label, file=sys.stderr)
            with open(os.path.join(work, r.label, "out.log"), errors="replace") as f:
                sys.stderr.write("".join(f.readlines()[-20:]))
            for k, v in r.leaks.items():
                if v:
                    print("  leaked %s: %s" % (k, " ".join(v[:10])), file=sys.stderr)
        return 1 if bad else 0
    finally:
        moto.stop()
        if a.keep:
            bl.log("bench: kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
