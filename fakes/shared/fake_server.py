"""What every FAKE cloud API of kiln's tests (fakes/*/) does alike, written
once: a CA and a server certificate for the endpoint host names, an RSA
key pair made with ssh-keygen (for key pairs the cloud creates), random
ids, the sshd `AuthorizedKeysCommand` client and the `hosts` subcommand,
the common options and accepted keys ([`Config`]), the state's lock and
scheduled changes ([`State`]), the handler's plumbing and admin endpoints
([`Handler`]), the fault hook (`/_fake/faults`), and the serving loop (plain
HTTP and HTTPS on loopback, the readiness file, exit when stdin closes).

Python 3.11 standard library only, plus the `openssl` and `ssh-keygen`
commands. Not any cloud's code.
"""

import argparse
import json
import os
import random
import shutil
import ssl
import string
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


def make_certs(d, hosts, cn, server_cn="fake"):
    """A CA (`cn` names it) and a server certificate (`server_cn`) for
    `hosts` and 127.0.0.1, via openssl, in `d`: (ca, certificate, key)
    paths."""
    ca_key, ca, key, csr, crt = (os.path.join(d, n) for n in ("ca.key", "ca.pem", "server.key", "server.csr",
                                                               "server.pem"))
    ext = os.path.join(d, "server.ext")
    sans = ",".join([f"DNS:{h}" for h in hosts] + ["IP:127.0.0.1"])
    with open(ext, "w") as f:
        f.write(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\n")
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "7",
        "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={server_cn}")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
        "-days", "7", "-extfile", ext)
    return ca, crt, key


def keygen():
    """A new 2048-bit RSA key pair: (PEM private key, authorized_keys line)."""
    d = tempfile.mkdtemp(prefix="fake-key-")
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-C", "",
                        "-f", os.path.join(d, "k")], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(d, "k")) as f:
            priv = f.read()
        with open(os.path.join(d, "k.pub")) as f:
            pub = f.read().strip()
        return priv, pub
    finally:
        shutil.rmtree(d, ignore_errors=True)


def rand_id(prefix, n=8):
    """`prefix` and `n` random lower-case letters and digits."""
    return prefix + "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def iso_time(t=None):
    """`t` (default: now) as `2026-01-01T00:00:00Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t if t is not None else time.time()))


def authorized_keys_main(argv):
    """`<fake>.py authorized-keys URL`: for sshd's AuthorizedKeysCommand."""
    import urllib.request
    with urllib.request.urlopen(argv[0].rstrip("/") + "/_fake/authorized_keys", timeout=10) as r:
        sys.stdout.write(r.read().decode())


def hosts_main(hosts):
    """`<fake>.py hosts`: an /etc/hosts that sends every endpoint host name
    (wildcards and `localhost` left out) to loopback."""
    for h in hosts:
        if "*" not in h and h != "localhost":
            print(f"127.0.0.1 {h}")


def add_server_arguments(ap, name, https=True):
    """The options every fake takes: where it listens (HTTPS off by default
    unless `https`), its state, its readiness file, stdin's end, and the
    time scale (default `$<NAME>_FAKE_TIME_SCALE`, else 1), public and
    private addresses of what it runs."""
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback only)")
    ap.add_argument("--http-port", "--port", type=int, default=0,
                    help="plain HTTP port (0: any free port, -1: none)")
    ap.add_argument("--https-port", type=int, default=0 if https else -1,
                    help=f"HTTPS port (0: any free port, -1: none; default {0 if https else -1})")
    ap.add_argument("--state-dir", help="where the CA and certificates go (default: a new temp dir)")
    ap.add_argument("--port-file", help="write {http, https, ca} as JSON here once listening")
    ap.add_argument("--exit-on-stdin-eof", action="store_true",
                    help="exit when stdin closes (a test harness's guard dying closes it)")
    ap.add_argument("--verbose", action="store_true")
    env = f"{name.upper()}_FAKE_TIME_SCALE"
    ap.add_argument("--time-scale", type=float, default=float(os.environ.get(env, "1")),
                    help=f"multiplies every realistic delay (0.01: a 60 s image takes 0.6 s; default ${env} or 1)")
    ap.add_argument("--public-ip", default="127.0.0.1",
                    help="the public address instances and EIPs get (point it at a test sshd)")
    ap.add_argument("--private-ip", default="", help="the private address instances get (default: the fake's own)")


def parse_keys(var, default_id, default_secret):
    """The keys a fake accepts: `$var` as `ID:SECRET,ID2:SECRET2` (an id
    maps to all after its first `:`), else `default_id` with
    `default_secret`."""
    keys = {}
    for pair in (os.environ.get(var) or "").split(","):
        if ":" in pair:
            k, secret = pair.split(":", 1)
            keys[k.strip()] = secret.strip()
    return keys or {default_id: default_secret}


class Config:
    """The settings every fake has, from the options of
    [`add_server_arguments`] (`time_scale`, `public_ip`, `private_ip`,
    `verbose`) and the keys it accepts (`keys`, id -> secret; see
    [`parse_keys`])."""

    def __init__(self, a, keys):
        self.time_scale = a.time_scale
        self.public_ip = a.public_ip
        self.private_ip = a.private_ip
        self.verbose = a.verbose
        self.keys = keys


class State:
    """What every fake's state does alike: `cfg` (a [`Config`]), one lock
    that guards it all, `reset()` (the fake's own) at start, changes
    scheduled on a resource (its `_next`, see [`State.at`]) applied once due
    by [`State.settle`], which also drops the resources marked `_gone`, and
    a counter for addresses ([`State.next_ip`])."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.RLock()
        self.ip_seq = 10
        self.reset()

    def reset(self):
        raise NotImplementedError

    def at(self, res, seconds, updates):
        """Applies `updates` (a dict, or a function of the resource) to
        `res` `seconds` from now; when (a `time.time()`)."""
        due = time.time() + seconds
        res.setdefault("_next", []).append((due, updates))
        res["_next"].sort(key=lambda x: x[0])
        return due

    def settle(self):
        """Applies every scheduled change that is due, then drops the
        resources marked `_gone`."""
        now = time.time()
        for table in self.res.values():
            for r in list(table.values()):
                nxt = r.get("_next")
                while nxt and nxt[0][0] <= now:
                    _, upd = nxt.pop(0)
                    if callable(upd):
                        upd(r)
                    else:
                        r.update(upd)
        for table in self.res.values():
            for k in [k for k, r in table.items() if r.get("_gone")]:
                del table[k]

    def next_ip(self):
        self.ip_seq += 1
        return self.ip_seq


def take_fault(st, action):
    """The next fault injected on `action` through `/_fake/faults` (its
    `count` used once, `fired` counted), or None."""
    with st.lock:
        for f in st.faults:
            if f["action"] == action and f["count"] > 0:
                f["count"] -= 1
                f["fired"] += 1
                return f
    return None


class Handler(BaseHTTPRequestHandler):
    """The plumbing of every fake's request handler: the body, answers
    (`content_type` by default), the Host and scheme, the log (with
    `--verbose`), and the admin endpoints ([`Handler._admin`]). `st` and
    `api` are set by [`main`]."""

    protocol_version = "HTTP/1.1"
    content_type = "application/json"
    log_name = "fake"
    st = None
    api = None
    # What `/_fake/config` may change and shows (after `time_scale`,
    # `public_ip` and `private_ip`), and the name it gives the key ids.
    config_settable = ("time_scale", "public_ip", "private_ip")
    config_shown = ()
    keys_name = "access_key_ids"
    # (DELAYS, regions) for `/_fake/delays`, None for none.
    delays = None
    # The defaults of the fields a fault POSTed to `/_fake/faults` leaves
    # out; None: the fake has no fault hook.
    fault_defaults = None

    def log_message(self, fmt, *args):
        if self.st.cfg.verbose:
            sys.stderr.write(f"{self.log_name}: {fmt % args}\n")

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, body, ctype=None, headers=None):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype or self.content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status, obj, headers=None):
        self._send(status, json.dumps(obj, ensure_ascii=False), headers=headers)

    def _scheme(self):
        return "https" if isinstance(self.connection, ssl.SSLSocket) else "http"

    def _host(self):
        return (self.headers.get("Host") or "").split(":")[0].lower()

    # The fake's own parts of the admin endpoints.
    def resources_view(self):
        """Everything the fake holds, by kind (`GET /_fake/resources`)."""
        raise NotImplementedError

    def authorized_keys(self, everything):
        """(public key line, name) of the keys an instance's cloud-init
        would install (`everything`: every key); None: no such endpoint."""
        return None

    def _admin_more(self, path, body):
        """The fake's own admin endpoints; True when `path` was one."""
        return False

    def _admin_missing(self, path):
        self._json(404, {"Code": "NotFound", "Message": f"no admin endpoint `{path}`"})

    def _admin(self, url, body=None):
        """The admin endpoints (not the cloud's), under the state's lock once
        due changes are applied: `GET /_fake/resources`, `GET
        /_fake/requests`, `POST /_fake/reset`, `GET|POST /_fake/config`, `GET
        /_fake/delays`, `GET|POST|DELETE /_fake/faults`, `GET
        /_fake/authorized_keys[?all=1]`, then the fake's own."""
        st = self.st
        path = url.path
        if body is None:
            body = self._body()
        with st.lock:
            st.settle()
            if path == "/_fake/resources":
                return self._json(200, self.resources_view())
            if path == "/_fake/requests":
                return self._json(200, st.log)
            if path == "/_fake/reset" and self.command == "POST":
                st.reset()
                return self._json(200, {"ok": True})
            if path == "/_fake/config":
                if self.command == "POST" and body:
                    upd = json.loads(body)
                    for k in self.config_settable:
                        if k in upd:
                            setattr(st.cfg, k, upd[k])
                shown = ("time_scale", "public_ip", "private_ip") + self.config_shown
                out = {k: getattr(st.cfg, k) for k in shown}
                out[self.keys_name] = sorted(st.cfg.keys)
                return self._json(200, out)
            if path == "/_fake/delays" and self.delays is not None:
                # The realistic delays (seconds, before the time scale) and
                # the regions, for benchmarks that compute a floor.
                delays, regions = self.delays
                return self._json(200, {"time_scale": st.cfg.time_scale, "delays": delays, "regions": list(regions)})
            if path == "/_fake/faults" and self.fault_defaults is not None:
                # Injected errors: {"action", "count" (1), and the fake's own
                # fields}; the next `count` calls of `action` fail so.
                if self.command == "POST" and body:
                    self.add_fault(json.loads(body))
                elif self.command == "DELETE":
                    st.faults.clear()
                return self._json(200, st.faults)
            keys = self.authorized_keys(bool(dict(parse_qsl(url.query)).get("all"))) \
                if path == "/_fake/authorized_keys" else None
            if keys is not None:
                lines = []
                for pub, name in keys:
                    f = pub.split()
                    lines.append(f"{f[0]} {f[1]} {name}\n")
                return self._send(200, "".join(lines), ctype="text/plain")
            if self._admin_more(path, body):
                return None
        self._admin_missing(path)

    def add_fault(self, f):
        """Adds the fault `f` (`action`, `count`, the fake's own fields;
        [`Handler.fault_defaults`] fill those it leaves out)."""
        fault = dict(self.fault_defaults)
        fault.update(f)
        fault["count"] = int(fault.get("count", 1))
        fault["fired"] = 0
        self.st.faults.append(fault)


def serve(ap, a, handler, hosts, ca_name, server_cn="fake"):
    """Serves `handler` as `a` (the parsed options of
    [`add_server_arguments`]) says, until killed."""
    if not (a.host.startswith("127.") or a.host in ("::1", "localhost")):
        ap.error("the fake listens on loopback only")
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    ready = {"http": None, "https": None, "ca": None}
    servers = []
    if a.http_port >= 0:
        s = ThreadingHTTPServer((a.host, a.http_port), handler)
        ready["http"] = s.server_address[1]
        servers.append(s)
    if a.https_port >= 0:
        d = a.state_dir or tempfile.mkdtemp(prefix="fake-tls-")
        os.makedirs(d, exist_ok=True)
        ca, crt, key = make_certs(d, hosts, ca_name, server_cn)
        s = ThreadingHTTPServer((a.host, a.https_port), handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        # The handshake happens in the connection's thread, not the accept loop.
        s.socket = ctx.wrap_socket(s.socket, server_side=True, do_handshake_on_connect=False)
        ready["https"] = s.server_address[1]
        ready["ca"] = ca
        servers.append(s)
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    if a.exit_on_stdin_eof:
        def watch():
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    line = json.dumps(ready)
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(line + "\n")
        os.replace(tmp, a.port_file)
    print(line, flush=True)
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass


def main(name, description, handler, state, api, hosts=(), ca_name=None, server_cn="fake", https=True,
         more_arguments=None):
    """A fake's command line: `authorized-keys URL`, `hosts`, or serving
    `handler` with `state(a)` (its [`State`] from the parsed options) and
    `api(st)`; `more_arguments(ap)` adds the fake's own options. HTTPS (on
    unless `https` is false) uses a CA named `ca_name` (default `kiln FAKE
    <name> CA`) and a certificate for `hosts`."""
    if len(sys.argv) > 1 and sys.argv[1] == "authorized-keys":
        return authorized_keys_main(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "hosts":
        return hosts_main(hosts)
    ap = argparse.ArgumentParser(description=description)
    add_server_arguments(ap, name, https)
    if more_arguments:
        more_arguments(ap)
    a = ap.parse_args()
    st = state(a)
    handler.st = st
    handler.api = api(st)
    serve(ap, a, handler, hosts, ca_name or f"kiln FAKE {name} CA", server_cn)
    return None
