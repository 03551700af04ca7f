#!/usr/bin/env python3
"""The docker engine's floor for bench/docker-build.sh's template: the API
calls alone that any client must make, over the engine's unix socket, with
no client logic in between: create and start the container, per `shell`
provisioner one upload and one exec (which also removes the script), the
`file` provisioner's upload, the commit with `changes`, and the removal.
Prints the seconds from create to removal.

By default the calls are Packer's: each script is uploaded, then run by
an exec that also removes it; a paused commit, then the forced removal
(which stops the container). With --overlap they are kiln's: each script
goes to the attached stdin of the one exec that writes, runs and removes
it; the container is paused, then committed (no second pause) while it is
killed, then removed.
usage: docker_floor.py FILES_DIR BASE_IMAGE [--overlap]"""
import http.client, json, socket, sys, time, io, tarfile, os, threading
class UConn(http.client.HTTPConnection):
    def __init__(self): super().__init__("localhost")
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect("/var/run/docker.sock")
def call(method, path, body=None, ctype="application/json", raw=False):
    c = UConn(); h = {}
    if body is not None:
        if not raw: body = json.dumps(body).encode()
        h["Content-Type"] = ctype
    c.request(method, path, body=body, headers=h); r = c.getresponse(); data = r.read(); c.close()
    if r.status >= 300: raise SystemExit(f"{method} {path}: {r.status} {data[:200]}")
    return json.loads(data) if data and r.getheader("Content-Type","").startswith("application/json") else data
def exec_(cid, cmd):
    e = call("POST", f"/containers/{cid}/exec", {"Cmd": ["/bin/sh", "-c", cmd], "AttachStdout": True, "AttachStderr": True})
    call("POST", f"/exec/{e['Id']}/start", {"Detach": False, "Tty": False})
    return call("GET", f"/exec/{e['Id']}/json")["ExitCode"]
def exec_stdin(cid, cmd, data):
    """One exec whose attached stdin carries `data`, then its end."""
    e = call("POST", f"/containers/{cid}/exec", {"Cmd": ["/bin/sh", "-c", cmd], "AttachStdin": True, "AttachStdout": True, "AttachStderr": True})
    s = socket.socket(socket.AF_UNIX); s.connect("/var/run/docker.sock")
    body = json.dumps({"Detach": False, "Tty": False}).encode()
    s.sendall(b"POST /exec/%s/start HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              b"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: %d\r\n\r\n" % (e["Id"].encode(), len(body)) + body)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk: raise SystemExit("exec start: the engine closed the connection")
        head += chunk
    s.sendall(data); s.shutdown(socket.SHUT_WR)
    while s.recv(65536): pass
    s.close()
    return call("GET", f"/exec/{e['Id']}/json")["ExitCode"]
def script_step(cid, path, script):
    if overlap:
        code = exec_stdin(cid, f"cat > {path} && chmod 755 {path}; ({path}); s=$?; rm -f {path}; exit $s", script)
    else:
        b = io.BytesIO()
        with tarfile.open(fileobj=b, mode="w") as t:
            ti = tarfile.TarInfo(path.lstrip("/")); ti.size = len(script); ti.mode = 0o755; t.addfile(ti, io.BytesIO(script))
        call("PUT", f"/containers/{cid}/archive?path=/", b.getvalue(), "application/x-tar", raw=True)
        code = exec_(cid, f"{path}; rm -f {path}")
    if code != 0: raise SystemExit(f"{path} exited {code}")
def tar_of(files_dir, dest):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        t.add(files_dir, arcname=dest.lstrip("/"))
    return b.getvalue()
files, base = sys.argv[1], sys.argv[2]
overlap = sys.argv[3:] == ["--overlap"]
t0 = time.time()
cid = call("POST", "/containers/create", {"Image": base, "Entrypoint": ["/bin/sh"], "Tty": True, "OpenStdin": True, "Labels": {"kiln-bench": "1"}})["Id"]
call("POST", f"/containers/{cid}/start")
script_step(cid, "/tmp/s1.sh", b"#!/bin/sh\nmkdir -p /opt/app\necho provisioning $(hostname)\n")
call("PUT", f"/containers/{cid}/archive?path=/", tar_of(files, "opt/app"), "application/x-tar", raw=True)
script_step(cid, "/tmp/s2.sh", b"#!/bin/sh\nls -R /opt/app | wc -l\necho done > /etc/built\n")
changes = {"Env": ["BUILT_BY=bench"], "WorkingDir": "/opt/app", "Cmd": ["/bin/sh"]}
if overlap:
    call("POST", f"/containers/{cid}/pause")
    kill = threading.Thread(target=call, args=("POST", f"/containers/{cid}/kill"))
    kill.start()
    img = call("POST", f"/commit?container={cid}&pause=false", changes)["Id"]
    kill.join()
else:
    img = call("POST", f"/commit?container={cid}&pause=true", changes)["Id"]
call("DELETE", f"/containers/{cid}?force=true&v=true")
t1 = time.time()
call("DELETE", f"/images/{img}?force=true")
print("%.3f" % (t1 - t0))
