#!/usr/bin/env python3
"""ucloud-uhost against the FAKE UCloud API (fakes/ucloud): one build whose
image is copied to 20 regions with `image_copy_to_mappings`, kiln's wall
time against the floor the fake's waits impose. Debian's packer 1.6.6 has
no ucloud builder, so the floor is the only comparison. bench/
ucloud-regions.sh starts a private sshd (bench/ssh-common.inc.sh) that
plays the UHost (the fake's EIPs are 127.0.0.1), then runs this script,
which starts the fake itself (loopback, a free port, a realistic delay
profile times --time-scale).

The build: one ucloud-uhost builder in cn-bj2 (default VPC, subnet and
firewall, an EIP made with the UHost), `image_copy_to_mappings` naming 20
other regions of the project, a shell provisioner that stamps its start
and end into a file around a `sleep`, so the provision time is measured
inside the "instance". The floor is the critical path of the fake's waits
(`GET /_fake/delays`, realistic seconds times the time scale): UHost
creation and start, the measured provision time, the stop, the image, the
slowest copy (all copies start together once the image is Available) and
the UHost's termination in cleanup. Every other second is the tool's.

After the run the fake's resources are counted: leaks are UHosts and EIPs
left, and images other than the 21 expected. Exits 1 if the build fails,
an image is missing or anything leaks; the 10%-of-floor target prints
PASS/FAIL and does not change the exit code.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # leave no __pycache__ in bench/
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import alicloud_regions as ar  # noqa: E402  (its stamped log, provisioner, phase reader)
import benchlib as bl  # noqa: E402

HOME_REGION = "cn-bj2"
ZONE = "cn-bj2-02"
PROJECT = "org-kiln"
SOURCE_IMAGE = "uimage-centos79"
KEYS = ("bench-public-key", "bench-private-key")
TARGET = 1.10  # kiln's wall time within 10% of the floor
# The waits on the critical path, in order (DELAYS keys); the provisioner
# runs between uhost_start and uhost_stop.
BEFORE_PROVISION = ("uhost_create", "uhost_start")
AFTER_PROVISION = ("uhost_stop", "image_create", "image_copy", "uhost_terminate")
# Where they fall in the output (the plugin's lines, which kiln keeps):
# (phase, its first line, the next phase's first line, the fake's waits).
PHASES = [
    ("UHost + SSH", "Creating Instance", "Connected to SSH", ("uhost_create", "uhost_start")),
    ("provision", "Connected to SSH", "Stopping instance", ("provision",)),
    ("stop", "Stopping instance", "Creating image", ("uhost_stop",)),
    ("image", "Creating image", "Copying image", ("image_create",)),
    ("copies", "Copying image", "Deleting instance", ("image_copy",)),
    ("cleanup", "Deleting instance", "finished after", ("uhost_terminate",)),
]


class Fake:
    """The fake UCloud API, on a free loopback port."""

    def __init__(self, work, scale):
        port_file = os.path.join(work, "fake.json")
        env = dict(os.environ, UCLOUD_FAKE_KEYS="%s:%s" % KEYS)
        self.log = open(os.path.join(work, "fake.log"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(os.path.dirname(HERE), "fakes/ucloud/ucloud_fake.py"),
             "--port", "0", "--time-scale", str(scale), "--port-file", port_file],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and os.path.getsize(port_file)):
            if self.proc.poll() is not None or time.time() > deadline:
                sys.exit("error: the fake did not start: see %s" % self.log.name)
            time.sleep(0.05)
        with open(port_file) as f:
            self.url = "http://127.0.0.1:%d" % json.load(f)["http"]

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def template(fake, a, copies, stamps, sleep):
    return {
        "builders": [{
            "type": "ucloud-uhost", "name": "regions",
            "public_key": KEYS[0], "private_key": KEYS[1], "project_id": PROJECT,
            "region": HOME_REGION, "availability_zone": ZONE, "base_url": fake.url,
            "source_image_id": SOURCE_IMAGE, "instance_type": "n-basic-2",
            "image_name": "bench-regions",
            "image_copy_to_mappings": [{"project_id": PROJECT, "region": r, "name": "bench-regions-" + r}
                                       for r in copies],
            "ssh_username": a.ssh_user, "ssh_port": a.ssh_port,
            "ssh_private_key_file": a.ssh_key, "ssh_timeout": "10m",
        }],
        "provisioners": [ar.provisioner(stamps, sleep)],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--ssh-port", type=int, required=True)
    ap.add_argument("--ssh-user", required=True)
    ap.add_argument("--ssh-key", required=True)
    ap.add_argument("--time-scale", type=float, default=0.1)
    ap.add_argument("--copies", type=int, default=20, help="regions the image is copied to (20)")
    ap.add_argument("--provision", type=float, default=10.0,
                    help="realistic seconds the provisioner sleeps, times the time scale (10)")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()

    fake = Fake(a.work, a.time_scale)
    try:
        info = fake.get("/_fake/delays")
        delays = info["delays"]
        copies = [r for r in info["regions"] if r != HOME_REGION][:a.copies]
        if len(copies) < a.copies:
            sys.exit("error: the fake has only %d regions besides `%s`" % (len(copies), HOME_REGION))
        scale = a.time_scale
        print("fake: time scale %g; waits (realistic s): %s"
              % (scale, ", ".join("%s %g" % kv for kv in delays.items())))
        print("load before: %.2f %.2f %.2f" % os.getloadavg())
        stamps = os.path.join(a.work, "provision.txt")
        with open(os.path.join(a.work, "t.json"), "w") as f:
            json.dump(template(fake, a, copies, stamps, a.provision * scale), f, indent=1)
        env = dict(os.environ, KILN_NO_LIVE="1")
        bl.become_subreaper()
        log = os.path.join(a.work, "out.log")
        res = ar.stamped([a.kiln, "build", "-color=false", "t.json"], a.work, env, log, a.timeout,
                         exclude=(fake.proc.pid,))
        resources = fake.get("/_fake/resources")
        requests = fake.get("/_fake/requests")
    finally:
        fake.stop()

    images = [i for i in resources.get("image", []) if i.get("ImageName", "").startswith("bench-regions")]
    available = [i for i in images if i.get("State") == "Available"]
    leaks = {k: len(resources.get(k, [])) for k in ("uhost", "eip")}
    leaks["other images"] = len(resources.get("image", [])) - len(images)
    prov = next(iter(ar.provision_times(stamps).values()), None)
    print("kiln: exit %d  wall %.2f s  peak tree RSS %s  CPU %.2f s  requests %d%s"
          % (res.exit_code, res.wall, bl.fmt_mem(res.peak_rss), res.cpu, len(requests),
             "  TIMED OUT" if res.timed_out else ""))
    print("      images %d (Available %d) of %d; leaks: %s"
          % (len(images), len(available), 1 + len(copies), ", ".join("%s %d" % kv for kv in leaks.items())))
    ok = (res.exit_code == 0 and not res.timed_out and len(available) == 1 + len(copies)
          and not any(leaks.values()) and prov is not None)
    verdict = None
    if prov is not None:
        before = sum(delays[k] for k in BEFORE_PROVISION) * scale
        after = sum(delays[k] for k in AFTER_PROVISION) * scale
        floor = before + prov + after
        print("regions build (%d copies): kiln %.2f s, floor %.2f s (waits %.2f + %.2f, provision %.2f), "
              "ratio %.3f" % (len(copies), res.wall, floor, before, after, prov, res.wall / floor))
        ar.PHASES[:] = PHASES
        for name, took, imposed in ar.phase_breakdown(log, delays, scale, prov):
            print("         %-12s %s  (the fake's waits %6.2f s)"
                  % (name, "%7.2f s" % took if took is not None else "      -  ", imposed))
        verdict = res.wall <= TARGET * floor
    print("load after: %.2f %.2f %.2f" % os.getloadavg())
    if not ok:
        with open(log, errors="replace") as f:
            sys.stderr.write("error: the build failed, an image is missing or something leaked; last lines:\n"
                             + "".join(f.readlines()[-15:]))
    print("verdict: the build succeeded and nothing leaked: %s; kiln within 10%% of the floor: %s"
          % ("PASS" if ok else "FAIL", {True: "PASS", False: "FAIL", None: "not measured"}[verdict]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
