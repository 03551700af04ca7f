#!/usr/bin/python3
"""sshd's AuthorizedKeysCommand for the openstack tests: the public keys of
the Nova key pairs of the servers that are ACTIVE in the test cloud.

The test cloud's compute driver is a stand-in (Nova's fake driver): its
servers boot nothing, so no cloud-init installs the server's key pair. A
loopback sshd plays the server, and this script plays cloud-init: the key
pair Nova launched an ACTIVE server with is what lets a build in. Reads the
credentials from the file named by argv[1] (`KEY=VALUE` lines, the OS_*
variables); stdlib only, so sshd's call stays fast.
"""
import json
import sys
import urllib.request


def main():
    env = {}
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    auth = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": env["OS_USERNAME"], "password": env["OS_PASSWORD"],
            "domain": {"name": env.get("OS_USER_DOMAIN_NAME", "Default")}}}},
        "scope": {"project": {"name": env["OS_PROJECT_NAME"],
                              "domain": {"name": env.get("OS_PROJECT_DOMAIN_NAME", "Default")}}}}}
    url = env["OS_AUTH_URL"].rstrip("/")
    if not url.endswith("/v3"):
        url += "/v3"
    req = urllib.request.Request(url + "/auth/tokens", data=json.dumps(auth).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        token = r.headers["X-Subject-Token"]
        body = json.load(r)
    nova = next(e["url"] for s in body["token"]["catalog"] if s["type"] == "compute"
                for e in s["endpoints"] if e["interface"] == "public")

    def get(path):
        req = urllib.request.Request(nova + path, headers={"X-Auth-Token": token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    names = {s.get("key_name") for s in get("/servers/detail")["servers"]
             if s.get("status") == "ACTIVE" and s.get("key_name")}
    for k in get("/os-keypairs")["keypairs"]:
        if k["keypair"]["name"] in names:
            print(k["keypair"]["public_key"].strip())


if __name__ == "__main__":
    main()
