#!/usr/bin/env python3
"""alicloud-ecs against the FAKE Alibaba Cloud API: one build whose image is
copied to 20 regions, then 100 parallel builds, kiln and packer 1.6.6 in one
run against one fake. bench/alicloud-regions.sh starts the fake (ports 80
and 443, a realistic delay profile times --time-scale) and the sshd that
plays the instance inside a private namespace, then runs this script there.

The regions build: one alicloud-ecs builder in cn-beijing (VPC, vSwitch,
security group and EIP created by the build), `image_copy_regions` naming
20 other regions, a shell provisioner that stamps its start and end into a
file around a `sleep` (the provisioning a real template does), so the
provision time is measured inside the instance. The floor is the critical
path of waits the fake imposes on that flow, read from the fake itself
(`GET /_fake/delays`, the realistic seconds times the time scale): VPC,
vSwitch, instance creation, EIP association, instance start, the measured
provision time, instance stop, image creation, the slowest copy (all copies
start together once the image is available) and the EIP's unassociation in
cleanup. Every other second is the tool's. The issue's shorter sum (start +
provision + image + slowest copy) is printed too.

Packer 1.6.6 does not wait for its copies: it returns while they are still
in progress. The script therefore also watches the fake after each run and
reports when the last copy became Available ("images usable at").

The parallel part: a template of --builds (100) alicloud-ecs builders b0..,
each its own image and temporary network, no copies, the same provisioner,
`-parallel-builds` equal to their number; wall time, peak RSS summed over
the tool's process tree (sampled from /proc), processes.

After every run: the fake's resources are counted. Leaks are rows of the
temporary kinds (instance, disk, VPC, vSwitch, security group, key pair,
EIP) and images or snapshots that are not the run's expected images; the
fake is then reset for the next run. Exits 1 if any build of either tool
fails, an image is missing, or anything leaks; the 10%-of-floor target
prints PASS/MISS and does not change the exit code.
"""

import argparse
import json
import os
import re
import sys
import threading
import time
import urllib.request

sys.dont_write_bytecode = True  # leave no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

FAKE = "http://127.0.0.1:80"
HOME_REGION = "cn-beijing"
SOURCE_IMAGE = "centos_7_9_x64_20G_alibase_20200000.vhd"
SSH_PORT = 2222
TARGET = 1.10  # kiln's wall time within 10% of the floor
# What a build makes for itself and must delete, whatever its outcome.
TEMPORARY = ("instance", "disk", "vpc", "vswitch", "security_group", "key_pair", "eip")
# The waits on the build's critical path, in order (DELAYS keys; `eip`
# twice: association, and unassociation in cleanup). The provisioner runs
# between instance_start and instance_stop.
BEFORE_PROVISION = ("vpc", "vswitch", "instance_create", "eip", "instance_start")
AFTER_PROVISION = ("instance_stop", "image_create", "image_copy", "eip")
ERRORED = re.compile(r"Build '([^']+)' errored")


def fake(path, data=None):
    req = urllib.request.Request(FAKE + path, data=data, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def provisioner(stamps, sleep):
    """A shell provisioner that stamps start and end (epoch seconds, one
    line each, tagged with the build's name) around `sleep`."""
    stamp = 'echo "%s ${PACKER_BUILD_NAME:-unnamed} $(date +%%s.%%N)" >> ' + stamps
    return {"type": "shell", "inline": [stamp % "start", "sleep %.3f" % sleep, stamp % "end"]}


def builder(tool, name, image_name, copies):
    b = {"type": "alicloud-ecs", "name": name, "region": HOME_REGION, "image_name": image_name,
         "source_image": SOURCE_IMAGE, "instance_type": "ecs.n1.tiny", "io_optimized": True,
         "internet_charge_type": "PayByTraffic", "ssh_username": "root", "ssh_port": SSH_PORT,
         "ssh_timeout": "10m"}
    if copies:
        b["image_copy_regions"] = copies
    if tool == "kiln":
        # kiln's HTTPS client trusts the built-in web roots only, not
        # SSL_CERT_FILE: it reaches the same fake over plain HTTP.
        b["custom_endpoint_ecs"] = FAKE
    return b


def provision_times(stamps):
    """{build name: seconds between its start and end stamps}."""
    start, out = {}, {}
    try:
        with open(stamps) as f:
            for line in f:
                kind, name, t = line.split()
                if kind == "start":
                    start[name] = float(t)
                elif name in start:
                    out[name] = float(t) - start[name]
    except FileNotFoundError:
        pass
    return out


class Run:
    """What one tool's run produced."""

    def __init__(self, tool, kind, n, images_each):
        self.tool, self.kind, self.n, self.images_each = tool, kind, n, images_each
        self.label = "%s %s" % (tool, kind)
        self.res = None
        self.errored = 0
        self.requests = 0
        self.images = 0
        self.copies_pending_at_exit = 0
        self.usable_at = None  # seconds after start when the last image became Available
        self.provision = {}
        self.leaks = {}
        self.log = ""
        self.fake_cpu = 0.0

    def leaked(self):
        return sum(len(v) for v in self.leaks.values())

    def ok(self):
        return (self.res.exit_code == 0 and not self.res.timed_out and self.errored == 0
                and self.images == self.n * self.images_each and self.leaked() == 0
                and len(self.provision) == self.n)


def cpu_of(pid):
    """CPU seconds (user + system) process `pid` has used; 0 without one."""
    if not pid:
        return 0.0
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stamped(argv, cwd, env, log, timeout, exclude=()):
    """bl.run_sampled, each output line written to `log` prefixed with the
    seconds since the start (for the phase breakdown); `exclude` as there
    (children of ours that outlive the run, such as a fake)."""
    rd, wr = os.pipe()
    t0 = time.perf_counter()

    def copy():
        with os.fdopen(rd, "rb") as src, open(log, "w") as dst:
            for line in src:
                dst.write("%9.3f %s" % (time.perf_counter() - t0, line.decode(errors="replace")))

    th = threading.Thread(target=copy, daemon=True)
    th.start()
    with os.fdopen(wr, "wb") as out:
        res = bl.run_sampled(argv, cwd, env, out, interval=0.05, timeout=timeout, exclude=exclude)
    th.join(30)
    return res


# Where the regions build's waits fall in its output (packer's messages,
# which kiln keeps): (phase, its first line, the next phase's first line,
# the fake's waits inside it).
PHASES = [
    ("VPC + vSwitch", "Creating vpc", "Creating security group", ("vpc", "vswitch")),
    ("security group", "Creating security group", "Creating instance", ()),
    ("instance create", "Creating instance", "Allocating eip", ("instance_create",)),
    ("EIP + key pair", "Allocating eip", "Starting instance", ("eip",)),
    ("start + SSH", "Starting instance", "Connected to SSH", ("instance_start",)),
    ("provision", "Connected to SSH", "Stopping instance", ("provision",)),
    ("stop", "Stopping instance", "Creating image", ("instance_stop",)),
    ("image", "Creating image", "Coping image", ("image_create",)),
    ("copies + share", "Coping image", "Cleaning up", ("image_copy",)),
    ("cleanup", "Cleaning up", "finished after", ("eip",)),
]


def phase_breakdown(log, delays, scale, provision):
    """Rows (phase, seconds taken, seconds the fake imposed) from a stamped
    log; None for a phase whose lines are missing."""
    first = {}
    with open(log, errors="replace") as f:
        for line in f:
            t, _, text = line.lstrip().partition(" ")
            for _, start, end, _ in PHASES:
                for m in (start, end):
                    if m in text and m not in first:
                        first[m] = float(t)
    rows = []
    for name, start, end, waits in PHASES:
        imposed = sum(provision if w == "provision" else delays[w] * scale for w in waits)
        took = first[end] - first[start] if start in first and end in first else None
        rows.append((name, took, imposed))
    return rows


def mine(rows, prefix):
    return [r for r in rows if r.get("ImageName", "").startswith(prefix)]


def run(a, exe, tool, kind, template, n, images_each, prefix, env):
    r = Run(tool, kind, n, images_each)
    d = os.path.join(a.work, "%s-%s" % (tool, kind))
    os.makedirs(d)
    stamps = os.path.join(d, "provision.txt")
    template["provisioners"] = [provisioner(stamps, a.provision_sleep)]
    with open(os.path.join(d, "t.json"), "w") as f:
        json.dump(template, f, indent=1)
    fake("/_fake/reset", b"")
    r.log = os.path.join(d, "out.log")
    bl.log("bench: %s: %d build(s)" % (r.label, n))
    argv = [exe, "build", "-color=false"] + (["-parallel-builds=%d" % n] if n > 1 else []) + ["t.json"]
    t0, cpu0 = time.time(), cpu_of(a.fake_pid)
    r.res = stamped(argv, d, env, r.log, a.timeout)
    r.fake_cpu = cpu_of(a.fake_pid) - cpu0
    # Copies still in progress when the tool exited; wait (bounded) for
    # them, to report when the images were all usable.
    images = mine(fake("/_fake/resources")["image"], prefix)
    r.copies_pending_at_exit = sum(1 for i in images if i["Status"] != "Available")
    deadline = time.time() + 600
    while any(i["Status"] != "Available" for i in images) and time.time() < deadline:
        time.sleep(0.2)
        images = mine(fake("/_fake/resources")["image"], prefix)
    if images and all(i["Status"] == "Available" for i in images):
        r.usable_at = max(r.res.wall, time.time() - t0) if r.copies_pending_at_exit else r.res.wall
    res = fake("/_fake/resources")
    requests = fake("/_fake/requests")
    r.requests = len(requests)
    with open(os.path.join(d, "requests.json"), "w") as f:
        json.dump(requests, f)
    with open(r.log, errors="replace") as f:
        r.errored = len({m.group(1) for m in ERRORED.finditer(f.read())})
    images = mine(res["image"], prefix)
    r.images = len(images)
    kept = {i["ImageId"] for i in images}
    kept_snaps = {d["SnapshotId"] for i in images for d in i.get("disks", [])}
    r.leaks = {k: [x.get("InstanceId") or x.get("DiskId") or x.get("VpcId") or x.get("VSwitchId")
                   or x.get("SecurityGroupId") or x.get("KeyPairName") or x.get("AllocationId") or "?"
                   for x in res.get(k, [])] for k in TEMPORARY}
    r.leaks["other images"] = [i["ImageId"] for i in res["image"] if i["ImageId"] not in kept]
    r.leaks["other snapshots"] = [s["SnapshotId"] for s in res["snapshot"] if s["SnapshotId"] not in kept_snaps]
    r.provision = provision_times(stamps)
    return r


def report(r):
    x = r.res
    print("%-16s exit %d  wall %7.2f s  peak tree RSS %9s  processes %3d  CPU %6.2f s  requests %d"
          " (fake's CPU %.2f s)%s"
          % (r.label, x.exit_code, x.wall, bl.fmt_mem(x.peak_rss), x.peak_procs, x.cpu, r.requests,
             r.fake_cpu, "  TIMED OUT" if x.timed_out else ""))
    prov = sorted(r.provision.values())
    print("                 builds errored %d, provisioned %d/%d (%s), images %d/%d, "
          "copies in progress at exit %d, images usable at %s"
          % (r.errored, len(prov), r.n,
             "median %.2f s" % bl.median(prov) if prov else "none",
             r.images, r.n * r.images_each, r.copies_pending_at_exit,
             "%.2f s" % r.usable_at if r.usable_at is not None else "never"))
    print("                 leaks: " + ", ".join("%s %d" % (k.replace("_", " "), len(v))
                                                  for k, v in r.leaks.items()) + "  total %d" % r.leaked())
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--packer", help="packer 1.6.6 (omit to run kiln alone)")
    ap.add_argument("--parallel-time-scale", type=float, default=0.1,
                    help="the fake's time scale for the parallel builds (0.1)")
    ap.add_argument("--copies", type=int, default=20, help="regions the image is copied to (20)")
    ap.add_argument("--builds", type=int, default=100, help="parallel builds (100; 0 to skip)")
    ap.add_argument("--provision", type=float, default=10.0,
                    help="realistic seconds the provisioner sleeps, times the time scale (10)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run before it is killed")
    ap.add_argument("--work", required=True, help="a directory for templates and logs")
    ap.add_argument("--fake-pid", type=int, help="the fake's process, for its CPU time")
    a = ap.parse_args()

    info = fake("/_fake/delays")
    scale, delays = info["time_scale"], info["delays"]
    copies = [r for r in info["regions"] if r != HOME_REGION][:a.copies]
    if len(copies) < a.copies:
        sys.exit("error: the fake has only %d regions besides `%s`" % (len(copies), HOME_REGION))
    a.provision_sleep = a.provision * scale
    before = sum(delays[k] for k in BEFORE_PROVISION) * scale
    after = sum(delays[k] for k in AFTER_PROVISION) * scale
    issue = (delays["instance_start"] + delays["image_create"] + delays["image_copy"]) * scale
    print("fake: time scale %g; waits (realistic s): %s" % (scale, ", ".join("%s %g" % kv for kv in delays.items())))
    print("load before: %.2f %.2f %.2f" % os.getloadavg())
    env = dict(os.environ, KILN_NO_LIVE="1", CHECKPOINT_DISABLE="1")
    env.pop("PACKER_LOG", None)
    bl.become_subreaper()

    tools = [("kiln", a.kiln)] + ([("packer", a.packer)] if a.packer else [])
    runs = []
    for tool, exe in tools:
        prefix = "bench-%s-regions" % tool
        t = {"builders": [builder(tool, "regions", prefix, copies)]}
        runs.append(run(a, exe, tool, "regions", t, 1, 1 + len(copies), prefix, env))
        report(runs[-1])
    par = []
    if a.builds:
        # The parallel builds measure throughput and memory, not the floor:
        # a shorter profile keeps the whole bench within minutes.
        fake("/_fake/config", json.dumps({"time_scale": a.parallel_time_scale}).encode())
        pscale = a.parallel_time_scale
        a.provision_sleep = a.provision * pscale
        for tool, exe in tools:
            prefix = "bench-%s-b" % tool
            t = {"builders": [builder(tool, "b%d" % i, "%s%d" % (prefix, i), []) for i in range(a.builds)]}
            par.append(run(a, exe, tool, "x%d" % a.builds, t, a.builds, 1, prefix, env))
            report(par[-1])
    print("load after: %.2f %.2f %.2f" % os.getloadavg())

    print()
    print("regions build (%d copies):" % len(copies))
    verdict_ok = None
    for r in runs:
        prov = next(iter(r.provision.values()), None)
        if prov is None:
            print("  %-6s no provision time measured (the build did not provision)" % r.tool)
            continue
        floor = before + prov + after
        short = issue + prov
        line = ("  %-6s wall %7.2f s  floor %6.2f s (waits %.2f + %.2f, provision %.2f)  ratio %.3f;"
                "  issue's floor (start+provision+image+copy) %.2f s, ratio %.3f"
                % (r.tool, r.res.wall, floor, before, after, prov, r.res.wall / floor, short, r.res.wall / short))
        if r.copies_pending_at_exit:
            line += ("\n         exited with %d/%d copies still in progress; images usable at %s (ratio %s)"
                     % (r.copies_pending_at_exit, len(copies),
                        "%.2f s" % r.usable_at if r.usable_at else "never",
                        "%.3f" % (r.usable_at / floor) if r.usable_at else "-"))
        print(line)
        for name, took, imposed in phase_breakdown(r.log, delays, scale, prov):
            print("         %-16s %s  (the fake's waits %6.2f s)"
                  % (name, "%7.2f s" % took if took is not None else "      -  ", imposed))
        if r.tool == "kiln":
            verdict_ok = r.res.wall <= TARGET * floor
            print("  target: kiln within 10%% of the floor (ratio <= %.2f): %s"
                  % (TARGET, "PASS" if verdict_ok else "FAIL"))
    if len(runs) == 2 and runs[0].res.wall:
        print("  packer/kiln wall: %.2fx" % (runs[1].res.wall / runs[0].res.wall))
    if len(par) == 2:
        k, p = par
        waits = sum(delays[w] for w in BEFORE_PROVISION + AFTER_PROVISION if w != "image_copy") * pscale
        floor100 = waits + bl.median(list(k.provision.values()) or [a.provision_sleep])
        print("%d parallel builds (time scale %g, no copies; one build's floor %.2f s):"
              % (a.builds, pscale, floor100))
        print("  wall: kiln %.2f s, packer %.2f s, packer/kiln %.2fx" % (k.res.wall, p.res.wall, p.res.wall / k.res.wall))
        print("  fake's CPU: during kiln %.2f s, during packer %.2f s (one core at most)" % (k.fake_cpu, p.fake_cpu))
        print("  peak tree RSS: kiln %s, packer %s, packer/kiln %.1fx"
              % (bl.fmt_mem(k.res.peak_rss), bl.fmt_mem(p.res.peak_rss), p.res.peak_rss / max(k.res.peak_rss, 1)))

    bad = [r for r in runs + par if not r.ok()]
    for r in bad:
        print("error: %s failed or leaked (exit %d, errored %d, images %d/%d, provisioned %d/%d, leaks %d); "
              "last lines of its log:" % (r.label, r.res.exit_code, r.errored, r.images, r.n * r.images_each,
                                          len(r.provision), r.n, r.leaked()), file=sys.stderr)
        with open(r.log, errors="replace") as f:
            sys.stderr.write("".join(f.readlines()[-15:]))
        for kind, ids in r.leaks.items():
            if ids:
                print("  leaked %s: %s" % (kind, " ".join(ids[:10])), file=sys.stderr)
    print("verdict: every build succeeded and nothing leaked: %s; kiln within 10%% of the floor: %s"
          % ("PASS" if not bad else "FAIL", {True: "PASS", False: "FAIL", None: "not measured"}[verdict_ok]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
