#!/usr/bin/env python3
"""N parallel tencentcloud-cvm builds against the FAKE Tencent Cloud API
(fakes/tencentcloud), kiln and Debian's packer 1.6.6 on the same fake: one
template of --builds builders b0.. (`communicator: none`, each its own
image name), built with `-parallel-builds` equal to their number. Reports,
per tool: wall time, peak RSS summed over the process tree (packer runs a
plugin process per builder), processes, CPU, requests to the fake, images
made, and what leaked (instances, VPCs, subnets, security groups, key
pairs, other images). Run by bench/tencent-parallel.sh inside its
namespace; the fake listens on 127.0.0.1:80 (kiln, plain HTTP through
KILN_TENCENTCLOUD_ENDPOINT) and :443 (packer, through /etc/hosts and
SSL_CERT_FILE)."""

import argparse
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

FAKE = "http://127.0.0.1:80"
TEMPORARY = ["instance", "vpc", "subnet", "security_group", "key_pair"]


def fake(path, data=None):
    with urllib.request.urlopen(urllib.request.Request(FAKE + path, data=data), timeout=30) as r:
        return json.loads(r.read())


def template(n, prefix):
    return {"builders": [{
        "type": "tencentcloud-cvm", "name": "b%d" % i, "region": "ap-guangzhou",
        "zone": "ap-guangzhou-3", "instance_type": "S5.MEDIUM2", "source_image_id": "img-pi0ii46r",
        "image_name": "%s-%d" % (prefix, i), "communicator": "none",
    } for i in range(n)]}


def run(a, exe, tool, env):
    d = os.path.join(a.work, tool)
    os.makedirs(d)
    prefix = "bench-%s" % tool
    with open(os.path.join(d, "t.json"), "w") as f:
        json.dump(template(a.builds, prefix), f, indent=1)
    fake("/_fake/reset", b"")
    bl.log("bench: %s: %d builds" % (tool, a.builds))
    argv = [exe, "build", "-color=false", "-parallel-builds=%d" % a.builds, "t.json"]
    with open(os.path.join(d, "out.log"), "w") as out:
        res = bl.run_sampled(argv, d, env, out, interval=0.05, timeout=a.timeout,
                             exclude=(a.fake_pid, a.sshd_pid))
    held = fake("/_fake/resources")
    requests = fake("/_fake/requests")
    images = [i for i in held["image"] if i["ImageName"].startswith(prefix)]
    leaks = {k: len(held.get(k, [])) for k in TEMPORARY}
    leaks["other images"] = len(held["image"]) - len(images)
    print("%-7s exit %s  wall %7.2f s  peak tree RSS %9s  processes %3d  CPU %6.2f s  requests %d  "
          "images %d/%d  leaks: %s%s"
          % (tool, res.exit_code, res.wall, bl.fmt_mem(res.peak_rss), res.peak_procs, res.cpu,
             len(requests), len(images), a.builds,
             ", ".join("%s %d" % (k.replace("_", " "), v) for k, v in leaks.items()),
             "  TIMED OUT" if res.timed_out else ""))
    sys.stdout.flush()
    return res.exit_code == 0 and len(images) == a.builds and not any(leaks.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", required=True)
    ap.add_argument("--fake-pid", type=int, required=True)
    ap.add_argument("--sshd-pid", type=int, default=0)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--packer")
    ap.add_argument("--builds", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=3600)
    a = ap.parse_args()
    bl.become_subreaper()
    ok = True
    delays = fake("/_fake/delays")
    print("%d parallel tencentcloud-cvm builds (fake's time scale %g)" % (a.builds, delays["time_scale"]))
    env = dict(os.environ, KILN_TENCENTCLOUD_ENDPOINT=FAKE)
    ok &= run(a, a.kiln, "kiln", env)
    if a.packer:
        ok &= run(a, a.packer, "packer", dict(os.environ, CHECKPOINT_DISABLE="1"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
