"""Shared helpers for kiln's benchmarks (Python 3 standard library only).

- locating (and, when stale, building) target/release/kiln and packer;
- running a command while sampling its whole process tree from /proc;
- small statistics helpers.
"""

import ctypes
import os
import shutil
import signal
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


def _tree(table, root):
    """Pids of `root`'s descendants (not root itself) in a {pid: (ppid, _)} table."""
    children = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, stack = [], [root]
    while stack:
        for c in children.get(stack.pop(), ()):
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
        self.samples = 0
        self.sample_cost = 0.0   # mean CPU seconds one sample took
        self.sampler_cpu = 0.0   # CPU seconds the sampler used in all
        self.leftover = 0        # descendants still alive after root exited
        self.timed_out = False


def run_sampled(argv, cwd, env, stdout, interval=0.02, timeout=None):
    """Run argv, sampling the summed RSS of its whole process tree every
    `interval` seconds from a background thread, and return a Result.

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
        pids = _tree(table, me)
        rss = [table[p][1] for p in pids]
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
    left = _tree(_proc_table(), me)
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
            if not _tree(_proc_table(), me):
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
