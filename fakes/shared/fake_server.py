"""What every FAKE cloud API of kiln's tests (fakes/*/) does alike, written
once: a CA and a server certificate for the endpoint host names, an RSA
key pair made with ssh-keygen (for key pairs the cloud creates), the
sshd `AuthorizedKeysCommand` client, and the serving loop (plain HTTP and
HTTPS on loopback, the readiness file, exit when stdin closes).

Python 3.11 standard library only, plus the `openssl` and `ssh-keygen`
commands. Not any cloud's code.
"""

import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
from http.server import ThreadingHTTPServer


def make_certs(d, hosts, cn):
    """A CA (`cn` names it) and a server certificate for `hosts` and
    127.0.0.1, via openssl, in `d`: (ca, certificate, key) paths."""
    ca_key, ca, key, csr, crt = (os.path.join(d, n) for n in ("ca.key", "ca.pem", "server.key", "server.csr",
                                                               "server.pem"))
    ext = os.path.join(d, "server.ext")
    sans = ",".join(f"DNS:{h}" for h in hosts) + ",IP:127.0.0.1"
    with open(ext, "w") as f:
        f.write(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\n")
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "7",
        "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=fake")
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


def authorized_keys_main(argv):
    """`<fake>.py authorized-keys URL`: for sshd's AuthorizedKeysCommand."""
    import urllib.request
    with urllib.request.urlopen(argv[0].rstrip("/") + "/_fake/authorized_keys", timeout=10) as r:
        sys.stdout.write(r.read().decode())


def add_server_arguments(ap, name):
    """The options every fake takes: where it listens, its state, its
    readiness file, stdin's end."""
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback only)")
    ap.add_argument("--http-port", type=int, default=0, help="plain HTTP port (0: any free port, -1: none)")
    ap.add_argument("--https-port", type=int, default=0, help="HTTPS port (0: any free port, -1: none)")
    ap.add_argument("--state-dir", help="where the CA and certificates go (default: a new temp dir)")
    ap.add_argument("--port-file", help="write {http, https, ca} as JSON here once listening")
    ap.add_argument("--exit-on-stdin-eof", action="store_true",
                    help="exit when stdin closes (a test harness's guard dying closes it)")
    ap.add_argument("--verbose", action="store_true")


def serve(ap, a, handler, hosts, ca_name):
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
        ca, crt, key = make_certs(d, hosts, ca_name)
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
