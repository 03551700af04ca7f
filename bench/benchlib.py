"""Shared helpers for kiln's benchmarks (Python 3 standard library only, but
for the moto section, which needs boto3).

- locating (and, when stale, building) target/release/kiln and packer;
- running a command while sampling its whole process tree from /proc;
- small statistics helpers;
- a moto EC2 server for the amazon-ebs benchmarks (its source image, warm-up,
  template, request count and an inventory of what builds left behind). The
  functions that talk to moto import boto3, so they need the moto venv's
  python (`$KILN_MOTO_VENV/bin/python`); the rest is standard library only.
  `python3 bench/benchlib.py --help` lists the commands shell scripts use.
"""

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.sysconf("SC_PAGE_SIZE")
PR_SET_CHILD_SUBREAPER = 36


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Binaries


def _newest_source_mtime():
    newest = 0.0
    for top in ("Cargo.toml", "Cargo.lock"):
        p = os.path.join(REPO, top)
        if os.path.exists(p):
            newest = max(newest, os.stat(p).st_mtime)
    for root, dirs, files in os.walk(os.path.join(REPO, "crates")):
        dirs[:] = [d for d in dirs if d not in ("target", ".git")]
        for f in files:
            if f.endswith(".rs") or f == "Cargo.toml":
                newest = max(newest, os.stat(os.path.join(root, f)).st_mtime)
    return newest


def kiln_binary():
    """Path of the release kiln binary; runs `cargo build --release --bin kiln`
    when it is missing or older than the sources. `$KILN` overrides (no build)."""
    if os.environ.get("KILN"):
        return os.path.abspath(os.environ["KILN"])
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    if not os.path.isabs(target):
        target = os.path.join(REPO, target)
    exe = os.path.join(target, "release", "kiln")
    if not os.path.exists(exe) or os.stat(exe).st_mtime < _newest_source_mtime():
        if not shutil.which("cargo"):
            sys.exit("error: %s is missing or stale and cargo is not installed" % exe)
        log("bench: building kiln: cargo build --release --bin kiln")
        r = subprocess.run(["cargo", "build", "--release", "--bin", "kiln"], cwd=REPO)
        if r.returncode != 0 or not os.path.exists(exe):
            sys.exit("error: cargo build --release --bin kiln failed")
    return exe


def packer_binary():
    """Path of packer (`$PACKER` overrides); warns unless it is 1.6.6."""
    exe = os.environ.get("PACKER") or shutil.which("packer")
    if not exe:
        sys.exit("error: packer not found; run ./scripts/install-deps.sh")
    try:
        v = subprocess.run([exe, "version"], capture_output=True, text=True,
                           env=packer_env(), timeout=60).stdout.strip()
    except Exception as e:  # noqa: BLE001
        v = "unknown (%s)" % e
    if "1.6.6" not in v:
        log("bench: warning: expected Packer v1.6.6, %s reports: %s" % (exe, v))
    return exe


def kiln_env():
    env = dict(os.environ)
    env["KILN_NO_LIVE"] = "1"
    return env


def packer_env():
    env = dict(os.environ)
    env["CHECKPOINT_DISABLE"] = "1"
    return env


# --------------------------------------------------------------------------
# Process-tree sampling


def become_subreaper():
    """Make this process the child subreaper, so descendants that are
    orphaned (daemonised plugins, `sh` children outliving their parent) are
    re-parented to us instead of to init and stay visible in the tree."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except Exception:  # noqa: BLE001
        return False


def _proc_table():
    """{pid: (ppid, rss_bytes)} for every process, from /proc/<pid>/stat.
    Raw os.open/os.read: about 10 us per process, so a sample stays cheap."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fd = os.open("/proc/%s/stat" % name, os.O_RDONLY)
        except OSError:
            continue  # exited meanwhile
        try:
            data = os.read(fd, 4096)
        except OSError:
            continue
        finally:
            os.close(fd)
        # comm may contain spaces and parens: split after the last ')'.
        # Then rest[0]=state (field 3), rest[1]=ppid (4), rest[21]=rss in pages (24).
        rest = data[data.rfind(b")") + 2:].split(None, 23)
        try:
            table[int(name)] = (int(rest[1]), int(rest[21]) * PAGE)
        except (IndexError, ValueError):
            continue
    return table


def _tree(table, root, exclude=()):
    """Pids of `root`'s descendants (not root itself) in a {pid: (ppid, _)}
    table, leaving out the pids in `exclude` and their descendants."""
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, stack = [], [root]
    while stack:
        for c in children.get(stack.pop(), ()):
            if c in exclude:
                continue
            out.append(c)
            stack.append(c)
    return out


class Result:
    """What one sampled run produced."""

    def __init__(self):
        self.wall = 0.0          # seconds, spawn to exit of the root process
        self.exit_code = None    # root's exit status (negative: killed by signal)
        self.cpu = 0.0           # user+sys seconds of root + reaped descendants
        self.peak_rss = 0        # max over samples of the tree's summed RSS
        self.peak_single = 0     # largest single-process RSS seen
        self.peak_procs = 0      # max number of processes in the tree
        self.peak_fds = 0        # max open file descriptors summed over the tree (count_fds)
        self.samples = 0
        self.sample_cost = 0.0   # mean CPU seconds one sample took
        self.sampler_cpu = 0.0   # CPU seconds the sampler used in all
        self.leftover = 0        # descendants still alive after root exited
        self.timed_out = False


def _open_fds(pids):
    """Open file descriptors of these processes, from /proc/<pid>/fd."""
    n = 0
    for p in pids:
        try:
            n += len(os.listdir("/proc/%d/fd" % p))
        except OSError:
            pass  # exited meanwhile
    return n


def run_sampled(argv, cwd, env, stdout, interval=0.02, timeout=None, count_fds=False, exclude=()):
    """Run argv, sampling the summed RSS of its whole process tree every
    `interval` seconds from a background thread, and return a Result.
    With count_fds, each sample also counts the tree's open file
    descriptors (Result.peak_fds). Children of ours in `exclude` (a server
    the tool talks to) are neither sampled nor stopped.

    The tree is every process below this Python process (we are its child
    subreaper when the kernel allows it), so this must not run two commands at
    once. stdout/stderr go to the open file `stdout`."""
    res = Result()
    me = os.getpid()
    stop = threading.Event()
    first_sample = threading.Event()
    cost = [0.0]

    def sample():
        t0 = time.thread_time()
        table = _proc_table()
        pids = _tree(table, me, exclude)
        rss = [table[p][1] for p in pids]
        if count_fds and pids:
            res.peak_fds = max(res.peak_fds, _open_fds(pids))
        cost[0] += time.thread_time() - t0
        res.samples += 1
        if pids:
            res.peak_rss = max(res.peak_rss, sum(rss))
            res.peak_single = max(res.peak_single, max(rss))
            res.peak_procs = max(res.peak_procs, len(pids))

    def sampler():
        nxt = time.perf_counter()
        while not stop.is_set():
            sample()
            first_sample.set()
            nxt += interval
            delay = nxt - time.perf_counter()
            if delay < 0:
                nxt = time.perf_counter()  # fell behind: do not burst
                delay = 0
            stop.wait(delay)

    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=stdout,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    th = threading.Thread(target=sampler, daemon=True)
    th.start()

    timer = None
    if timeout:
        def on_timeout():
            res.timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        timer = threading.Timer(timeout, on_timeout)
        timer.start()

    _, status, ru = os.wait4(proc.pid, 0)
    res.wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    res.exit_code = proc.returncode
    if timer:
        timer.cancel()
    stop.set()
    th.join()
    res.cpu = ru.ru_utime + ru.ru_stime
    res.sampler_cpu = cost[0]
    res.sample_cost = cost[0] / max(res.samples, 1)

    # Anything still below us was left behind by the tool: count it, stop it.
    left = _tree(_proc_table(), me, exclude)
    res.leftover = len(left)
    if left:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
    # Reap re-parented orphans (and their rusage).
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            pid, _, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if not _tree(_proc_table(), me, exclude):
                break
            time.sleep(0.01)
            continue
        res.cpu += ru.ru_utime + ru.ru_stime
    return res


# --------------------------------------------------------------------------
# Formatting and statistics


def mib(n):
    return n / (1024 * 1024)


def fmt_mem(n):
    if n >= 1024 ** 3:
        return "%.2f GiB" % (n / 1024 ** 3)
    return "%.1f MiB" % mib(n)


def median(xs):
    s = sorted(xs)
    n = len(s)
    if n == 0:
        return float("nan")
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def ratio(a, b):
    return a / b if b else float("inf")


def verdict(ok):
    return "PASS" if ok else "MISS"


# --------------------------------------------------------------------------
# moto: one EC2 server for the amazon-ebs benchmarks
#
# amazon-parallel.sh and amazon_scale.py share what follows: the source
# image, moto's start and warm-up, the amazon-ebs template, and the count of
# what builds left behind. Functions that talk to moto import boto3 and run
# under the moto venv's python.

MOTO_VENV = os.environ.get("KILN_MOTO_VENV") or os.path.expanduser("~/.cache/kiln/moto-venv")
# The source image, EBS-backed as amazon-ebs requires (images moto makes
# itself report a `standard` root device, which Packer rejects too).
BASE_AMI = "ami-0be4c4"
BASE_AMIS = [{
    "ami_id": BASE_AMI, "name": "bench-base", "state": "available", "public": True,
    "owner_id": "801119661308", "image_location": "amazon/bench", "root_device_type": "ebs",
    "root_device_name": "/dev/xvda", "description": "kiln bench image", "image_type": "machine",
    "architecture": "x86_64", "virtualization_type": "hvm", "hypervisor": "xen",
    "creation_date": "2024-01-01T00:00:00.000Z"}]
# Static credentials both tools take from the environment.
AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIDKILNBENCH", "AWS_SECRET_ACCESS_KEY": "kiln-bench-secret",
           "AWS_EC2_METADATA_DISABLED": "true"}


def write_base_amis(path):
    """The MOTO_AMIS_PATH file: moto's only source image, BASE_AMI."""
    with open(path, "w") as f:
        json.dump(BASE_AMIS, f)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _ec2(endpoint):
    import boto3  # the moto venv's python
    from botocore.config import Config
    return boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
                        config=Config(retries={"max_attempts": 10, "mode": "standard"}))


def moto_warm_up(endpoint):
    """Warm moto up (its EC2 backend loads lazily, ~2 s), so no measured tool
    pays for it: one instance launched, imaged and terminated."""
    c = _ec2(endpoint)
    i = c.run_instances(ImageId=BASE_AMI, MinCount=1, MaxCount=1,
                        InstanceType="t2.micro")["Instances"][0]["InstanceId"]
    c.deregister_image(ImageId=c.create_image(InstanceId=i, Name="warm-up")["ImageId"])
    c.terminate_instances(InstanceIds=[i])


class Moto:
    """One moto EC2 server on loopback with BASE_AMI, warmed up. Its log has
    one line per request served, which `requests()` counts."""

    def __init__(self, work, recorder=None):
        self.log_path = os.path.join(work, "moto.log")
        amis = os.path.join(work, "amis.json")
        write_base_amis(amis)
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        env = dict(os.environ, MOTO_AMIS_PATH=amis)
        if recorder:
            env["MOTO_RECORDER_FILEPATH"] = recorder
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [os.path.join(MOTO_VENV, "bin", "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise SystemExit("error: moto did not start; see %s" % self.log_path)
                time.sleep(0.1)
        moto_warm_up(self.endpoint)

    def requests(self):
        """Requests moto has served so far (the access lines in its log)."""
        with open(self.log_path, "rb") as f:
            return sum(1 for line in f if b'] "' in line and b" HTTP/1." in line)

    def cpu(self):
        """CPU seconds (user + system) moto has used."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def client(self):
        return _ec2(self.endpoint)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def amazon_template(tool, n, endpoint, manifest=False):
    """N amazon-ebs builders named a0001.., communicator `none`, AMIs named
    bench-TOOL-a0001.., polling every second; with a manifest post-processor
    (`manifest.json`) when asked."""
    width = max(3, len(str(n)))
    b = {"type": "amazon-ebs", "region": "us-east-1", "custom_endpoint_ec2": endpoint,
         "source_ami": BASE_AMI, "instance_type": "t2.micro", "communicator": "none",
         "aws_polling": {"delay_seconds": 1, "max_attempts": 120}}
    t = {"builders": [dict(b, name="a%0*d" % (width, i), ami_name="bench-%s-a%0*d" % (tool, width, i))
                      for i in range(1, n + 1)]}
    if manifest:
        t["post-processors"] = [{"type": "manifest", "output": "manifest.json"}]
    return t


# What a build can leave in EC2, by kind: ids (names for key pairs).
LEAK_KINDS = ("instances", "key_pairs", "security_groups", "vpcs", "subnets", "addresses",
              "volumes", "snapshots", "images")


def ec2_inventory(c):
    """Everything in moto a build could leave behind, by kind; instances
    only when not terminated; plus each image's snapshots."""
    def pages(op, key, **kw):
        out = []
        for page in c.get_paginator(op).paginate(**kw):
            out.extend(page[key])
        return out
    images = c.describe_images(Owners=["self"])["Images"]
    return {
        "instances": [i["InstanceId"] for r in pages("describe_instances", "Reservations")
                      for i in r["Instances"] if i["State"]["Name"] not in ("terminated", "shutting-down")],
        "key_pairs": [k["KeyName"] for k in c.describe_key_pairs()["KeyPairs"]],
        "security_groups": [g["GroupId"] for g in pages("describe_security_groups", "SecurityGroups")
                            if g["GroupName"] != "default"],
        "vpcs": [v["VpcId"] for v in pages("describe_vpcs", "Vpcs") if not v.get("IsDefault")],
        "subnets": [s["SubnetId"] for s in pages("describe_subnets", "Subnets") if not s.get("DefaultForAz")],
        "addresses": [a.get("AllocationId") or a.get("PublicIp") for a in c.describe_addresses()["Addresses"]],
        "volumes": [v["VolumeId"] for v in pages("describe_volumes", "Volumes")],
        "snapshots": [s["SnapshotId"] for s in pages("describe_snapshots", "Snapshots", OwnerIds=["self"])],
        "images": [im["ImageId"] for im in images],
        "image_names": {im["ImageId"]: im.get("Name", "") for im in images},
        "image_snapshots": {im["ImageId"]: [b["Ebs"]["SnapshotId"] for b in im.get("BlockDeviceMappings", [])
                                            if "SnapshotId" in b.get("Ebs", {})] for im in images},
    }


def ec2_leaks(before, after, kept_amis):
    """What is in `after` and not in `before`, by kind, except the AMIs in
    kept_amis (those a manifest records) and their snapshots."""
    kept_snaps = {s for a in kept_amis for s in after["image_snapshots"].get(a, ())}
    out = {}
    for k in LEAK_KINDS:
        old = set(before[k])
        out[k] = [x for x in after[k] if x not in old
                  and not (k == "images" and x in kept_amis)
                  and not (k == "snapshots" and x in kept_snaps)]
    return out


def manifest_amis(path):
    """AMI ids a manifest.json records (artifact ids `region:ami-…,…`), and
    a note when it is missing or not JSON."""
    try:
        with open(path) as f:
            builds = json.load(f).get("builds") or []
    except FileNotFoundError:
        return [], "no manifest.json"
    except ValueError as e:
        return [], "manifest.json is not valid JSON (%s)" % e
    amis = []
    for b in builds:
        for part in str(b.get("artifact_id", "")).split(","):
            if ":" in part:
                amis.append(part.split(":", 1)[1])
    return amis, ""


def _main(argv):
    """Commands for shell scripts (amazon-parallel.sh)."""
    import argparse
    p = argparse.ArgumentParser(prog="benchlib.py", description=_main.__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("base-amis", help="write the MOTO_AMIS_PATH file").add_argument("path")
    sub.add_parser("warm-up", help="warm moto up (venv python)").add_argument("endpoint")
    t = sub.add_parser("amazon-template", help="print the amazon-ebs template")
    t.add_argument("tool")
    t.add_argument("n", type=int)
    t.add_argument("endpoint")
    t.add_argument("--manifest", action="store_true")
    c = sub.add_parser("amazon-check", help="print: AMIs named bench-TOOL-*, temporary key pairs, "
                       "security groups, instances not terminated (venv python)")
    c.add_argument("endpoint")
    c.add_argument("tool")
    a = p.parse_args(argv)
    if a.cmd == "base-amis":
        write_base_amis(a.path)
    elif a.cmd == "warm-up":
        moto_warm_up(a.endpoint)
    elif a.cmd == "amazon-template":
        print(json.dumps(amazon_template(a.tool, a.n, a.endpoint, a.manifest), indent=1))
    else:
        c = _ec2(a.endpoint)
        inv = ec2_inventory(c)
        amis = [i for i, n in inv["image_names"].items() if n.startswith("bench-%s-" % a.tool)]
        kps = [k for k in inv["key_pairs"] if k.startswith("packer_")]
        sgs = [g for g in c.describe_security_groups()["SecurityGroups"] if g["GroupName"].startswith("packer_")]
        print(len(amis), len(kps), len(sgs), len(inv["instances"]))

if __name__ == "__main__":
    sys.dont_write_bytecode = True
    _main(sys.argv[1:])
