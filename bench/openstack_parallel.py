#!/usr/bin/python3
"""N parallel openstack builds against the REAL test OpenStack
(scripts/openstack.sh), kiln and Debian's packer 1.6.6 on the same cloud:
one template of --builds builders b0.. (`communicator: none`, the `tiny`
image on `m1.tiny`, the shared `private` network, each its own image
name), built with `-parallel-builds` equal to their number. Reports, per
tool: wall time, peak RSS summed over the process tree (packer runs a
plugin process per builder), processes, CPU, the API requests Keystone,
Nova, Glance and Neutron served per build (read from their logs; this
counts the cloud's own calls for a build too, such as Nova's to Glance for
the snapshot, which are the same for both tools), images made, and what
leaked (servers, key pairs, floating IPs, other images). The images are
deleted after each tool's run. Run by bench/openstack-parallel.sh with
Debian's python3 (openstacksdk)."""

import argparse
import json
import os
import re
import shlex
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

STATE = os.environ.get("KILN_OPENSTACK_DIR", "/var/tmp/kiln-openstack")
# Each service's request log, and the pattern of one served request.
LOGS = [
    ("Keystone", "logs/keystone.out", re.compile(r"\] (GET|POST|PUT|PATCH|DELETE|HEAD) /")),
    ("Nova", "logs/nova-api.log", re.compile(r'"(GET|POST|PUT|PATCH|DELETE|HEAD) /')),
    ("Glance", "logs/glance-api.log", re.compile(r'"(GET|POST|PUT|PATCH|DELETE|HEAD) /')),
    ("Neutron", "logs/neutron-server.log", re.compile(r'"(GET|POST|PUT|PATCH|DELETE|HEAD) /')),
]


def parse_env(text):
    env = {}
    for tok in shlex.split(text):
        if tok == "export" or "=" not in tok:
            continue
        k, v = tok.split("=", 1)
        env[k] = v
    return env


def connect(env):
    os.environ.update(env)
    import openstack
    return openstack.connect()


def log_sizes():
    return {name: os.path.getsize(os.path.join(STATE, path)) for name, path, _ in LOGS
            if os.path.exists(os.path.join(STATE, path))}


def requests_since(sizes):
    counts = {}
    for name, path, pat in LOGS:
        p = os.path.join(STATE, path)
        if name not in sizes:
            continue
        with open(p, "rb") as f:
            f.seek(sizes[name])
            text = f.read().decode("utf-8", "replace")
        counts[name] = sum(1 for line in text.splitlines() if pat.search(line))
    return counts


def inventory(c):
    return {
        "servers": {s.id for s in c.compute.servers()},
        "keypairs": {k.name for k in c.compute.keypairs()},
        "floating_ips": {f.id for f in c.network.ips(project_id=c.current_project_id)},
        "images": {i.id: i.name for i in c.image.images(owner=c.current_project_id)},
    }


def template(a, prefix, net):
    return {"builders": [{
        "type": "openstack", "name": "b%d" % i,
        "identity_endpoint": a.user["OS_AUTH_URL"], "username": a.user["OS_USERNAME"],
        "password": a.user["OS_PASSWORD"], "tenant_name": a.user["OS_PROJECT_NAME"],
        "domain_name": "Default", "region": a.user["OS_REGION_NAME"],
        "flavor": "m1.tiny", "source_image_name": "tiny", "networks": [net],
        "image_name": "%s-%d" % (prefix, i), "communicator": "none",
    } for i in range(a.builds)]}


def run(a, c, exe, tool, env, net):
    d = os.path.join(a.work, tool)
    os.makedirs(d)
    prefix = "bench-%s-%d" % (tool, os.getpid())
    with open(os.path.join(d, "t.json"), "w") as f:
        json.dump(template(a, prefix, net), f, indent=1)
    before = inventory(c)
    sizes = log_sizes()
    bl.log("bench: %s: %d builds" % (tool, a.builds))
    argv = [exe, "build", "-color=false", "-parallel-builds=%d" % a.builds, "t.json"]
    with open(os.path.join(d, "out.log"), "w") as out:
        res = bl.run_sampled(argv, d, env, out, interval=0.05, timeout=a.timeout)
    served = requests_since(sizes)
    after = inventory(c)
    made = [i for i, n in after["images"].items() if n.startswith(prefix)]
    leaks = {k: len(after[k] - before[k]) for k in ("servers", "keypairs", "floating_ips")}
    leaks["other images"] = len(set(after["images"]) - set(before["images"]) - set(made))
    total = sum(served.values())
    print("%-7s exit %s  wall %7.2f s  peak tree RSS %9s  processes %3d  CPU %6.2f s  "
          "requests/build %6.1f (%s)  images %d/%d  leaks: %s"
          % (tool, res.exit_code, res.wall, bl.fmt_mem(res.peak_rss), res.peak_procs, res.cpu,
             total / a.builds, ", ".join("%s %d" % kv for kv in served.items()),
             len(made), a.builds, ", ".join("%s %d" % kv for kv in leaks.items())), flush=True)
    for i in made:
        c.image.delete_image(i, ignore_missing=True)
    ok = res.exit_code == 0 and len(made) == a.builds and not any(leaks.values())
    return ok, res, total


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--builds", type=int, default=20)
    p.add_argument("--skip-packer", action="store_true")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--admin-env", required=True)
    p.add_argument("--user-env", required=True)
    a = p.parse_args()
    a.user = parse_env(a.user_env)
    admin = connect(parse_env(a.admin_env))
    # Room for N servers at once in the tests' project.
    project = admin.identity.find_project(a.user["OS_PROJECT_NAME"])
    admin.set_compute_quotas(project.id, instances=a.builds + 20, cores=a.builds + 20,
                             ram=(a.builds + 20) * 512)
    c = connect(a.user)
    net = c.network.find_network("private").id
    a.work = tempfile.mkdtemp(prefix="kiln-bench-openstack-")
    bl.become_subreaper()
    kiln_env = dict(os.environ)
    for k in list(kiln_env):
        if k.startswith("OS_"):
            del kiln_env[k]
    ok, k_res, k_req = run(a, c, bl.kiln_binary(), "kiln", kiln_env, net)
    if not a.skip_packer:
        penv = bl.packer_env()
        for k in list(penv):
            if k.startswith("OS_"):
                del penv[k]
        p_ok, p_res, p_req = run(a, c, bl.packer_binary(), "packer", penv, net)
        ok = ok and p_ok
        print("packer/kiln: wall %.2fx  peak RSS %.1fx  requests %.2fx"
              % (p_res.wall / k_res.wall, p_res.peak_rss / max(k_res.peak_rss, 1),
                 p_req / max(k_req, 1)))
    if not a.keep:
        import shutil
        shutil.rmtree(a.work, ignore_errors=True)
    else:
        bl.log("bench: kept %s" % a.work)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
