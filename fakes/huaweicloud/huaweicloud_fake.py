#!/usr/bin/env python3
"""A FAKE Huawei Cloud API server for kiln's tests (not Huawei's code).

It answers the ECS, IMS, VPC, EIP and IAM calls that Huawei's packer plugin
(`huaweicloud-ecs`) and Huawei's SDKs make, on loopback only, over plain
HTTP and HTTPS (a CA generated at start). Every request must carry an
SDK-HMAC-SHA256 signature (AK/SK, `X-Sdk-Date`, canonical request over the
signed headers), checked as Huawei's API gateway checks it; failures get the
gateway's `{"error_code", "error_msg"}` body (`APIGW.0301`, 401), and the
services answer with their own bodies (ECS and IMS `{"error": {"code",
"message"}}`, VPC and EIP `{"code", "message"}`).

Servers move BUILD -> ACTIVE -> SHUTOFF (their system and data volumes are
`volume` resources, deleted with them when asked), images queued -> saving ->
active (whole-ECS images need the CBR vault the fake seeds, `VAULT_ID`),
VPCs CREATING -> OK, subnets UNKNOWN -> ACTIVE, EIPs PENDING_CREATE -> DOWN
-> ACTIVE (bound), after realistic delays multiplied by a time scale.
Creating, stopping and deleting servers, creating images and adding image
members are asynchronous jobs (`/v1/{project_id}/jobs/{job_id}`).

Admin endpoints (not Huawei's): GET /_fake/resources, GET /_fake/requests,
POST /_fake/reset, GET|POST /_fake/config, POST /_fake/faults (inject errors
on named operations), GET /_fake/authorized_keys.

Run `huaweicloud_fake.py --help`; README.md beside this file says more.
"""

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import os
import string
import sys
import time
import uuid
from urllib.parse import parse_qsl, quote, unquote, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared"))
import fake_server  # noqa: E402  (fakes/shared: what every fake does alike)

# ---------------------------------------------------------------- catalogue

REGIONS = ["cn-north-4", "cn-north-1", "cn-east-3", "cn-south-1", "ap-southeast-1", "ap-southeast-3",
           "eu-west-101", "la-south-2"]
ZONE_SUFFIXES = ["a", "b", "c"]
DEFAULT_REGION = "cn-north-4"
FLAVORS = {
    # id: (vcpus, ram MiB)
    "s6.small.1": (1, 1024),
    "s6.medium.2": (1, 2048),
    "s6.large.2": (2, 4096),
    "c7.large.2": (2, 4096),
    "c7.xlarge.2": (4, 8192),
}
PUBLIC_IMAGES = [
    # (id, name, platform, os version, min disk GiB)
    ("8ce4a1b6-0d5a-4f49-b8ee-1d4b1b1c0001", "Ubuntu 22.04 server 64bit", "Ubuntu", "Ubuntu 22.04 server 64bit", 40),
    ("8ce4a1b6-0d5a-4f49-b8ee-1d4b1b1c0002", "Ubuntu 20.04 server 64bit", "Ubuntu", "Ubuntu 20.04 server 64bit", 40),
    ("8ce4a1b6-0d5a-4f49-b8ee-1d4b1b1c0003", "CentOS 7.9 64bit", "CentOS", "CentOS 7.9 64bit", 40),
    ("8ce4a1b6-0d5a-4f49-b8ee-1d4b1b1c0004", "Debian 11.1.0 64bit", "Debian", "Debian GNU/Linux 11.1.0 64bit", 40),
]
VOLUME_TYPES = ["SAS", "SSD", "GPSSD", "ESSD", "SATA", "GPSSD2", "ESSD2"]
# A data disk image another project shared with every project (its owner
# is not the caller's): `data_image_id` of a data volume. (id, name, GiB)
DATA_IMAGE = ("5b0b6a7e-7c1e-4a55-9f0e-6d0c7a1d0d01", "kiln-shared-data-disk", 20)
# The CBR server-backup vault every region holds: `vault_id` of a whole-ECS
# image.
VAULT_ID = "3c4a8e2f-1b6d-4f0e-9a7c-2e5d8b1f6a01"
# The account (IAM domain) of every access key, whose projects are named as
# the regions are.
DOMAIN_ID = "9f3b2c1d0e4a4b6c8d7e5f4a3b2c1d0e"
EIP_TYPES = ["5_bgp", "5_sbgp", "5_telcom", "5_union"]
# Realistic durations in seconds, multiplied by the time scale.
DELAYS = {
    "server_create": 30,
    "server_stop": 10,
    "server_delete": 10,
    "image_create": 120,
    "image_members": 2,
    "vpc": 3,
    "subnet": 5,
    "eip": 2,
}
MAX_SKEW = 15 * 60
DATE_FORMAT = "%Y%m%dT%H%M%SZ"


class ApiError(Exception):
    """An error answered with the service's error body (`style`: `error`
    for `{"error": {code, message}}`, `flat` for `{"code", "message"}`,
    `apigw` for the gateway's `{"error_code", "error_msg"}`)."""

    def __init__(self, status, code, message, style=None):
        super().__init__(message)
        self.status, self.code, self.message, self.style = status, code, message, style


def rid():
    return str(uuid.uuid4())


iso_now = fake_server.iso_time


# ---------------------------------------------------------------- signatures

def canonical_uri(path):
    """Huawei's canonical URI: each segment of the decoded path encoded
    (`~` kept), a trailing `/` always."""
    p = "/".join(quote(s, safe="~") for s in unquote(path).split("/"))
    return p if p.endswith("/") else p + "/"


def canonical_query(query):
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in pairs)


def string_to_sign(method, path, query, headers, signed, body, date):
    """The SDK-HMAC-SHA256 string to sign; `headers` lower-cased."""
    payload = headers.get("x-sdk-content-sha256") or hashlib.sha256(body).hexdigest()
    canon = "\n".join([
        method.upper(), canonical_uri(path), canonical_query(query),
        "".join(f"{h}:{headers.get(h, '').strip()}\n" for h in signed), ";".join(signed), payload,
    ])
    return "SDK-HMAC-SHA256\n%s\n%s" % (date, hashlib.sha256(canon.encode()).hexdigest())


def sign(secret, sts):
    return hmac.new(secret.encode(), sts.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- state

KINDS = ("server", "volume", "image", "job", "vpc", "subnet", "security_group", "security_group_rule", "keypair",
         "eip")


class State(fake_server.State):
    """Everything the fake holds; one lock guards it all."""

    def reset(self):
        with self.lock:
            self.res = {k: {} for k in KINDS}
            self.log = []
            self.faults = []
            self.seq = 0
            self.ip_seq = 10
            for region in REGIONS:
                for iid, name, platform, osv, min_disk in PUBLIC_IMAGES:
                    self.res["image"][iid + "@" + region] = {
                        "id": iid, "name": name, "status": "active", "visibility": "public",
                        "__imagetype": "gold", "__platform": platform, "__os_version": osv, "__os_type": "Linux",
                        "min_disk": min_disk, "min_ram": 0, "disk_format": "zvhd2", "container_format": "bare",
                        "created_at": "2022-05-01T00:00:00Z", "updated_at": "2022-05-01T00:00:00Z",
                        "owner": "public", "protected": True, "tags": [], "__support_kvm": "true",
                        "virtual_env_type": "FusionCompute", "_region": region, "_public": True,
                        "_members": {}, "_tags": {}, "_next": [],
                    }
                did, dname, dsize = DATA_IMAGE
                self.res["image"][did + "@" + region] = {
                    "id": did, "name": dname, "status": "active", "visibility": "shared",
                    "__imagetype": "shared", "__os_type": "", "__image_source_type": "uds",
                    "virtual_env_type": "DataImage", "min_disk": dsize, "min_ram": 0, "disk_format": "zvhd2",
                    "container_format": "bare", "created_at": "2022-06-01T00:00:00Z",
                    "updated_at": "2022-06-01T00:00:00Z", "owner": "6f1d8c0b2a4e4c3d9b7a5e1f0c2d4b6a",
                    "protected": False, "tags": [], "_region": region, "_public": True,
                    "_members": {}, "_tags": {}, "_next": [],
                }

    def later(self, res, kind, updates, extra=0.0):
        """Applies `updates` (a dict or a function) to `res` after the scaled
        delay of `kind`."""
        return self.at(res, (DELAYS[kind] + extra) * self.cfg.time_scale, updates)


def public(r):
    """A resource as Huawei shows it: the fake's own `_` fields left out,
    Huawei's `__` ones (`__imagetype`, `__backup_id`) kept."""
    return {k: v for k, v in r.items() if not k.startswith("_") or k.startswith("__")}


# ---------------------------------------------------------------- the API

class Api:
    """One method per operation, named as Huawei's SDKs name them."""

    def __init__(self, st):
        self.st = st

    # helpers -----------------------------------------------------------
    def find(self, kind, key, region, err):
        r = self.st.res[kind].get(key)
        if r is None or r.get("_region") != region or r.get("_deleted"):
            raise err
        return r

    def new_job(self, region, project, job_type, entities, delay_kind, on_done=None, extra=0.0):
        jid = "ff8080" + uuid.uuid4().hex[:26]
        job = {"job_id": jid, "job_type": job_type, "status": "RUNNING", "entities": entities,
               "begin_time": iso_now(), "end_time": "", "error_code": None, "fail_reason": None,
               "_region": region, "_project": project, "_next": []}

        def done(j):
            ok = on_done(j) if on_done else True
            j.update({"status": "SUCCESS" if ok is not False else "FAIL", "end_time": iso_now()})
        self.st.later(job, delay_kind, done, extra)
        self.st.res["job"][jid] = job
        return jid

    def ecs_not_found(self, sid):
        return ApiError(404, "Ecs.0114", f"Instance[{sid}] could not be found.", "error")

    # ECS: zones, flavors, key pairs ------------------------------------
    def NovaListAvailabilityZones(self, c):
        return 200, {"availabilityZoneInfo": [
            {"zoneName": f"{c.region}{s}", "zoneState": {"available": True}, "hosts": None}
            for s in ZONE_SUFFIXES]}

    def ListFlavors(self, c):
        az = c.q.get("availability_zone")
        if az and az not in [c.region + s for s in ZONE_SUFFIXES]:
            return 200, {"flavors": []}
        return 200, {"flavors": [self.flavor_view(f) for f in FLAVORS]}

    def flavor_view(self, fid):
        cpus, ram = FLAVORS[fid]
        return {"id": fid, "name": fid, "vcpus": str(cpus), "ram": ram, "disk": "0", "swap": "",
                "OS-FLV-EXT-DATA:ephemeral": 0, "rxtx_factor": 1.0, "os-flavor-access:is_public": True,
                "links": [], "os_extra_specs": {"ecs:performancetype": "normal",
                                                "cond:operation:status": "normal"}}

    def NovaShowFlavor(self, c, fid):
        if fid not in FLAVORS:
            raise ApiError(404, "Ecs.0039", f"Flavor {fid} could not be found.", "error")
        return 200, {"flavor": self.flavor_view(fid)}

    def NovaCreateKeypair(self, c):
        kp = (c.body or {}).get("keypair") or {}
        name = kp.get("name") or ""
        if not name:
            raise ApiError(400, "Ecs.0005", "Invalid input for field/attribute keypair. name is required.", "error")
        key = f"{c.region}/{name}"
        if key in self.st.res["keypair"]:
            raise ApiError(409, "Ecs.0317", f"Key pair '{name}' already exists.", "error")
        priv = None
        pub = kp.get("public_key")
        if not pub:
            priv, pub = fake_server.keygen()
        try:
            fp = ":".join("%02x" % b for b in hashlib.md5(base64.b64decode(pub.split()[1])).digest())
        except Exception:
            raise ApiError(400, "Ecs.0005", "Keypair data is invalid: failed to generate fingerprint", "error")
        rec = {"name": name, "public_key": pub.strip(), "fingerprint": fp, "user_id": c.user_id,
               "type": "ssh", "created_at": iso_now(), "_region": c.region, "_next": []}
        self.st.res["keypair"][key] = rec
        out = dict(public(rec))
        if priv:
            out["private_key"] = priv
        return 200, {"keypair": out}

    def NovaShowKeypair(self, c, name):
        r = self.st.res["keypair"].get(f"{c.region}/{name}")
        if not r:
            raise ApiError(404, "Ecs.0314", f"Keypair {name} not found.", "error")
        return 200, {"keypair": public(r)}

    def NovaListKeypairs(self, c):
        return 200, {"keypairs": [{"keypair": public(r)} for r in self.st.res["keypair"].values()
                                  if r["_region"] == c.region]}

    def NovaDeleteKeypair(self, c, name):
        if self.st.res["keypair"].pop(f"{c.region}/{name}", None) is None:
            raise ApiError(404, "Ecs.0314", f"Keypair {name} not found.", "error")
        return 204, None

    # ECS: servers ------------------------------------------------------
    def CreatePostPaidServers(self, c):
        s = (c.body or {}).get("server")
        if not isinstance(s, dict):
            raise ApiError(400, "Ecs.0005", "request body is illegal: `server` is required.", "error")
        bad = lambda m: ApiError(400, "Ecs.0005", m, "error")
        for k in ("name", "imageRef", "flavorRef", "vpcid", "nics", "root_volume"):
            if not s.get(k):
                raise bad(f"request body is illegal: `{k}` is required.")
        if s["flavorRef"] not in FLAVORS:
            raise ApiError(400, "Ecs.0039", f"Flavor {s['flavorRef']} could not be found.", "error")
        img = self.image(c.region, s["imageRef"])
        if img is None or img["status"] != "active" or img.get("virtual_env_type") == "DataImage":
            raise ApiError(400, "Ecs.0023", f"Image {s['imageRef']} could not be found or is not active.", "error")
        az = s.get("availability_zone") or c.region + ZONE_SUFFIXES[0]
        if az not in [c.region + x for x in ZONE_SUFFIXES]:
            raise ApiError(400, "Ecs.0020", f"The availability zone {az} does not exist.", "error")
        vpc = self.st.res["vpc"].get(s["vpcid"])
        if not vpc or vpc["_region"] != c.region:
            raise ApiError(400, "Ecs.0024", f"VPC {s['vpcid']} does not exist.", "error")
        subnets = []
        for nic in s["nics"]:
            sub = self.st.res["subnet"].get(nic.get("subnet_id") or "")
            if not sub or sub["vpc_id"] != vpc["id"] or sub["status"] != "ACTIVE":
                raise ApiError(400, "Ecs.0025", f"Subnet {nic.get('subnet_id')} does not exist or is not ACTIVE.",
                               "error")
            subnets.append(sub)
        sgs = []
        for g in s.get("security_groups") or []:
            sg = self.st.res["security_group"].get(g.get("id") or "")
            if not sg or sg["vpc_id"] != vpc["id"]:
                raise ApiError(400, "Ecs.0026", f"Security group {g.get('id')} does not exist.", "error")
            sgs.append(sg)
        rv = s["root_volume"]
        if rv.get("volumetype") not in VOLUME_TYPES:
            raise bad(f"Invalid volume type `{rv.get('volumetype')}`.")
        size = rv.get("size") or img["min_disk"]
        if size < img["min_disk"] or size > 1024:
            raise ApiError(400, "Ecs.0050", f"The system disk size {size} is smaller than the image's minimum "
                           f"{img['min_disk']} or larger than 1024.", "error")
        data = self.data_volumes(c, s.get("data_volumes"))
        key_name = s.get("key_name") or ""
        if key_name and f"{c.region}/{key_name}" not in self.st.res["keypair"]:
            raise ApiError(400, "Ecs.0314", f"Keypair {key_name} not found.", "error")
        eip = None
        pip = s.get("publicip") or {}
        if pip.get("id"):
            eip = self.st.res["eip"].get(pip["id"])
            if not eip or eip["_region"] != c.region:
                raise ApiError(400, "Ecs.0032", f"Public IP {pip['id']} does not exist.", "error")
            if eip.get("port_id"):
                raise ApiError(400, "Ecs.0033", f"Public IP {pip['id']} is already bound.", "error")
        tags = {}
        for t in s.get("server_tags") or []:
            tags[t.get("key")] = t.get("value", "")
        sid = str(uuid.uuid4())
        ip = f"{self.st.cfg.private_ip}" if self.st.cfg.private_ip else \
            str(ipaddress.ip_network(subnets[0]["cidr"], strict=False).network_address + self.st.next_ip())
        port = str(uuid.uuid4())
        if not sgs:
            sgs = [{"id": "default", "name": "default"}]
        server = {
            "id": sid, "name": s["name"], "status": "BUILD", "OS-EXT-STS:vm_state": "building",
            "OS-EXT-STS:task_state": "spawning", "OS-EXT-AZ:availability_zone": az,
            "flavor": {"id": s["flavorRef"], "name": s["flavorRef"], "vcpus": str(FLAVORS[s["flavorRef"]][0]),
                       "ram": str(FLAVORS[s["flavorRef"]][1])},
            "image": {"id": img["id"]}, "key_name": key_name, "metadata": {
                "vpc_id": vpc["id"], "charging_mode": "0", "image_name": img["name"],
                **(s.get("metadata") or {})},
            "addresses": {vpc["id"]: [{"version": "4", "addr": ip, "OS-EXT-IPS:type": "fixed",
                                       "OS-EXT-IPS:port-id": port,
                                       "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:%02x" % (self.st.ip_seq % 256)}]},
            "security_groups": [{"id": g["id"], "name": g["name"]} for g in sgs],
            "tags": [f"{k}={v}" if v else k for k, v in tags.items()],
            "created": iso_now(), "updated": iso_now(), "tenant_id": c.project, "user_id": c.user_id,
            "os-extended-volumes:volumes_attached": [],
            "description": s.get("description", ""), "hostId": uuid.uuid4().hex,
            "_region": c.region, "_project": c.project, "_tags": tags, "_port": port, "_ip": ip,
            "_subnet": subnets[0]["id"], "_vpc": vpc["id"], "_root": {"type": rv["volumetype"], "size": size},
            "_user_data": s.get("user_data", ""), "_eip": eip["id"] if eip else None, "_next": [],
        }
        if eip:
            eip["port_id"] = port
            eip["private_ip_address"] = ip
        self.st.res["server"][sid] = server
        for i, (vtype, vsize, image_id) in enumerate([(rv["volumetype"], size, img["id"])] + data):
            self.attach_new_volume(c, server, az, i, vtype, vsize, image_id)

        def booted(r):
            if r.get("_deleted"):
                return
            r.update({"status": "ACTIVE", "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:task_state": "",
                      "OS-SRV-USG:launched_at": iso_now(), "updated": iso_now()})
            if r.get("_eip"):
                e = self.st.res["eip"].get(r["_eip"])
                if e:
                    e["status"] = "ACTIVE"
                    r["addresses"][r["_vpc"]].append({"version": "4", "addr": e["public_ip_address"],
                                                      "OS-EXT-IPS:type": "floating",
                                                      "OS-EXT-IPS:port-id": r["_port"]})
        self.st.later(server, "server_create", booted)
        jid = self.new_job(c.region, c.project, "createServer", {
            "sub_jobs_total": 1,
            "sub_jobs": [{"status": "SUCCESS", "entities": {"server_id": sid}, "job_id": "ff8080" + uuid.uuid4().hex[:26],
                          "job_type": "createSingleServer", "begin_time": iso_now(), "end_time": iso_now(),
                          "error_code": None, "fail_reason": None}]}, "server_create", extra=0.5)
        return 200, {"job_id": jid, "serverIds": [sid]}

    def data_volumes(self, c, volumes):
        """(type, GiB, data image id) of each of `data_volumes`, checked as
        ECS checks them: a known type, 10 to 32768 GiB, a data disk image
        the project sees no larger than the disk."""
        out = []
        bad = lambda m: ApiError(400, "Ecs.0005", m, "error")
        if volumes is not None and not isinstance(volumes, list):
            raise bad("request body is illegal: `data_volumes` must be a list.")
        for i, v in enumerate(volumes or []):
            if not isinstance(v, dict) or v.get("volumetype") not in VOLUME_TYPES:
                raise bad(f"Invalid volume type `{(v or {}).get('volumetype')}` of data_volumes[{i}].")
            size = v.get("size")
            if not isinstance(size, int) or not 10 <= size <= 32768:
                raise bad(f"The size of data_volumes[{i}] must be an integer from 10 to 32768.")
            image_id = v.get("data_image_id") or None
            if image_id:
                di = self.image(c.region, image_id)
                if di is None or di["status"] != "active" or di.get("virtual_env_type") != "DataImage":
                    raise ApiError(400, "Ecs.0023", f"Data image {image_id} could not be found or is not an "
                                   "active data disk image.", "error")
                if size < di["min_disk"]:
                    raise ApiError(400, "Ecs.0050", f"The size {size} of data_volumes[{i}] is smaller than the "
                                   f"data image's minimum {di['min_disk']}.", "error")
            out.append((v["volumetype"], size, image_id))
        return out

    def attach_new_volume(self, c, server, az, index, vtype, size, image_id):
        """A new EVS volume attached to `server` (`index` 0: its system disk,
        `/dev/vda`), in use by it."""
        vid = str(uuid.uuid4())
        device = "/dev/vd" + "abcdefghijklmnopqrstuvwxyz"[index]
        self.st.res["volume"][vid] = {
            "id": vid, "name": f"{server['name']}-volume-{index:04d}", "status": "in-use", "size": size,
            "volume_type": vtype, "availability_zone": az, "bootable": "true" if index == 0 else "false",
            "attachments": [{"server_id": server["id"], "device": device, "attachment_id": vid,
                             "volume_id": vid, "attached_at": iso_now()}],
            "volume_image_metadata": {"image_id": image_id} if image_id else {}, "multiattach": False,
            "created_at": iso_now(), "_region": c.region, "_next": [],
        }
        server["os-extended-volumes:volumes_attached"].append({
            "id": vid, "delete_on_termination": "true" if index == 0 else "false",
            "bootIndex": "0" if index == 0 else None, "device": device})

    def server(self, c, sid):
        r = self.st.res["server"].get(sid)
        if r is None or r["_region"] != c.region or r.get("_deleted"):
            raise self.ecs_not_found(sid)
        return r

    def ShowServer(self, c, sid):
        return 200, {"server": public(self.server(c, sid))}

    def ListServersDetails(self, c):
        out = []
        for r in self.st.res["server"].values():
            if r["_region"] != c.region or r.get("_deleted"):
                continue
            if c.q.get("name") and c.q["name"] not in r["name"]:
                continue
            if c.q.get("tags"):
                k, _, v = c.q["tags"].partition("=")
                if r["_tags"].get(k) != v:
                    continue
            out.append(public(r))
        return 200, {"count": len(out), "servers": out}

    def ListServerInterfaces(self, c, sid):
        r = self.server(c, sid)
        return 200, {"interfaceAttachments": [{
            "port_state": "ACTIVE", "fixed_ips": [{"subnet_id": r["_subnet"], "ip_address": r["_ip"]}],
            "net_id": r["_subnet"], "port_id": r["_port"], "mac_addr": "fa:16:3e:00:00:01"}]}

    def BatchStopServers(self, c):
        body = (c.body or {}).get("os-stop") or {}
        ids = [x.get("id") for x in body.get("servers") or []]
        if not ids:
            raise ApiError(400, "Ecs.0005", "request body is illegal: `os-stop.servers` is required.", "error")
        servers = [self.server(c, i) for i in ids]
        for r in servers:
            if r["status"] not in ("ACTIVE", "SHUTOFF"):
                raise ApiError(409, "Ecs.0007", f"Instance {r['id']} is in status {r['status']}, "
                               "the operation cannot be performed.", "error")

        def stopped(r):
            if not r.get("_deleted"):
                r.update({"status": "SHUTOFF", "OS-EXT-STS:vm_state": "stopped", "OS-EXT-STS:task_state": ""})
        for r in servers:
            if r["status"] == "ACTIVE":
                r["OS-EXT-STS:task_state"] = "powering-off"
                self.st.later(r, "server_stop", stopped)
        return 200, {"job_id": self.new_job(c.region, c.project, "batchStopServer", {}, "server_stop", extra=0.2)}

    def DeleteServers(self, c):
        body = c.body or {}
        ids = [x.get("id") for x in body.get("servers") or []]
        if not ids:
            raise ApiError(400, "Ecs.0005", "request body is illegal: `servers` is required.", "error")
        servers = [self.server(c, i) for i in ids]
        delete_eip = bool(body.get("delete_publicip"))
        delete_volumes = bool(body.get("delete_volume"))
        for r in servers:
            r["OS-EXT-STS:task_state"] = "deleting"

            def gone(r, delete_eip=delete_eip, delete_volumes=delete_volumes):
                r.update({"_deleted": True, "_gone": True, "status": "DELETED"})
                # The system disk goes with the server; its data disks only
                # with `delete_volume`, else they are detached.
                for a in r["os-extended-volumes:volumes_attached"]:
                    v = self.st.res["volume"].get(a["id"])
                    if v is None:
                        continue
                    if delete_volumes or a["bootIndex"] == "0":
                        v["_gone"] = True
                    else:
                        v.update({"status": "available", "attachments": []})
                for e in self.st.res["eip"].values():
                    if e.get("port_id") == r["_port"]:
                        if delete_eip:
                            e["_gone"] = True
                        else:
                            e.update({"port_id": None, "private_ip_address": None, "status": "DOWN"})
            self.st.later(r, "server_delete", gone)
        return 200, {"job_id": self.new_job(c.region, c.project, "deleteServer", {}, "server_delete", extra=0.2)}

    def ShowJob(self, c, jid):
        j = self.st.res["job"].get(jid)
        if j is None or j["_region"] != c.region:
            if c.svc == "ims":
                raise ApiError(404, "IMG.0038", f"The job {jid} does not exist.", "error")
            raise ApiError(404, "Ecs.0200", f"Job {jid} could not be found.", "error")
        return 200, public(j)

    # IMS ---------------------------------------------------------------
    def image(self, region, iid):
        r = self.st.res["image"].get(iid + "@" + region)
        if r is None or r.get("_deleted"):
            return None
        return r

    def image_view(self, r):
        v = public(r)
        v["tags"] = [f"{k}={val}" if val else k for k, val in r["_tags"].items()]
        return v

    def ListImages(self, c):
        q = c.q
        out = []
        for r in self.st.res["image"].values():
            if r["_region"] != c.region or r.get("_deleted"):
                continue
            if q.get("name") and r["name"] != q["name"]:
                continue
            if q.get("id") and r["id"] != q["id"]:
                continue
            if q.get("status") and r["status"] != q["status"]:
                continue
            if q.get("__imagetype") and r["__imagetype"] != q["__imagetype"]:
                continue
            if q.get("owner") and r["owner"] != q["owner"]:
                continue
            if q.get("tag"):
                k, _, v = q["tag"].partition("=")
                if r["_tags"].get(k) != v:
                    continue
            out.append(r)
        key = q.get("sort_key") or "created_at"
        out.sort(key=lambda r: str(r.get(key, "")), reverse=(q.get("sort_dir", "desc") == "desc"))
        if q.get("marker"):
            ids = [r["id"] for r in out]
            out = out[ids.index(q["marker"]) + 1:] if q["marker"] in ids else []
        limit = int(q.get("limit") or 500)
        return 200, {"images": [self.image_view(r) for r in out[:limit]]}

    def GlanceListImages(self, c):
        _, v = self.ListImages(c)
        return 200, {"images": v["images"], "first": "/v2/images", "schema": "/v2/schemas/images"}

    def CreateImage(self, c):
        return self.image_from_server(c, c.body or {}, "createImageByInstance", {})

    def CreateWholeImage(self, c):
        """A full-ECS image: every disk of the server, backed up into the
        CBR vault `vault_id` (the backup outlives the image, as Huawei's
        does)."""
        b = c.body or {}
        vault = b.get("vault_id") or ""
        if not vault and not b.get("backup_id"):
            raise ApiError(400, "IMG.0001", "`vault_id` is required to create a full-ECS image from an ECS.",
                           "error")
        if vault and vault != VAULT_ID:
            raise ApiError(400, "IMG.0229", f"The vault {vault} does not exist or is not a server backup vault.",
                           "error")
        return self.image_from_server(c, b, "createWholeImage", {
            "__whole_image": "true", "__backup_id": str(uuid.uuid4()), "_vault": vault})

    def image_from_server(self, c, b, job_type, extra):
        name = b.get("name") or ""
        if not name or len(name) > 128:
            raise ApiError(400, "IMG.0001", "The image name is invalid: 1 to 128 characters.", "error")
        sid = b.get("instance_id") or ""
        if not sid:
            raise ApiError(400, "IMG.0001", "`instance_id` is required to create an image from an ECS.", "error")
        srv = self.st.res["server"].get(sid)
        if srv is None or srv["_region"] != c.region or srv.get("_deleted"):
            raise ApiError(400, "IMG.0044", f"The ECS {sid} does not exist.", "error")
        if srv["status"] not in ("ACTIVE", "SHUTOFF") or srv.get("OS-EXT-STS:task_state"):
            raise ApiError(400, "IMG.0045", f"The ECS {sid} is in status {srv['status']}: it must be running or "
                           "stopped, with no task in progress.", "error")
        if srv.get("_imaging"):
            raise ApiError(400, "IMG.0046", f"An image is already being created from the ECS {sid}.", "error")
        tags = {}
        for t in b.get("image_tags") or []:
            tags[t.get("key")] = t.get("value", "")
        for t in b.get("tags") or []:
            k, _, v = t.partition(".")
            tags[k] = v
        src = self.image(c.region, srv["image"]["id"]) or {}
        iid = str(uuid.uuid4())
        now = iso_now()
        img = {
            "id": iid, "name": name, "status": "queued", "visibility": "private", "__imagetype": "private",
            "__platform": src.get("__platform", "Other"), "__os_version": src.get("__os_version", "Other"),
            "__os_type": "Linux", "min_disk": srv["_root"]["size"], "min_ram": int(b.get("min_ram") or 0),
            "max_ram": int(b.get("max_ram") or 0), "disk_format": "zvhd2", "container_format": "bare",
            "created_at": now, "updated_at": now, "owner": c.project, "protected": False,
            "__description": b.get("description", ""), "__originalimagename": src.get("id", ""),
            "__image_source_type": "uds", "__support_kvm": "true", "virtual_env_type": "FusionCompute",
            "enterprise_project_id": b.get("enterprise_project_id", "0"),
            "_region": c.region, "_public": False, "_members": {}, "_tags": tags, "_next": [],
        }
        img.update(extra)
        self.st.res["image"][iid + "@" + c.region] = img
        srv["_imaging"] = True
        self.st.later(img, "image_create", {"status": "saving"}, extra=-DELAYS["image_create"] * 0.9)

        def active(r):
            if not r.get("_deleted"):
                r.update({"status": "active", "updated_at": iso_now(), "size": 2147483648})
            srv.pop("_imaging", None)
        self.st.later(img, "image_create", active)
        jid = self.new_job(c.region, c.project, job_type, {"image_id": iid, "image_name": name},
                           "image_create", on_done=lambda j: not img.get("_deleted"), extra=0.1)
        return 200, {"job_id": jid}

    def own_image(self, c, iid):
        r = self.image(c.region, iid)
        if r is None:
            raise ApiError(404, "IMG.0027", f"The image {iid} does not exist.", "error")
        if r["_public"]:
            raise ApiError(403, "IMG.0028", f"The image {iid} is not yours.", "error")
        return r

    def GlanceShowImage(self, c, iid):
        r = self.image(c.region, iid)
        if r is None:
            raise ApiError(404, "IMG.0027", f"The image {iid} does not exist.", "error")
        return 200, self.image_view(r)

    def GlanceUpdateImage(self, c, iid):
        r = self.own_image(c, iid)
        ops = c.body if isinstance(c.body, list) else []
        for op in ops:
            path = (op.get("path") or "").lstrip("/")
            if op.get("op") in ("replace", "add") and path in ("min_disk", "min_ram", "name", "__description"):
                if path in ("min_disk", "min_ram"):
                    val = op.get("value")
                    if not isinstance(val, int) or val < 1 or val > 1024:
                        raise ApiError(400, "IMG.0001", f"`{path}` must be an integer from 1 to 1024.", "error")
                r[path] = op.get("value")
            else:
                raise ApiError(400, "IMG.0001", f"Unsupported update `{op.get('op')} {op.get('path')}`.", "error")
        r["updated_at"] = iso_now()
        return 200, self.image_view(r)

    def GlanceDeleteImage(self, c, iid):
        r = self.own_image(c, iid)
        if r["status"] not in ("active", "killed"):
            raise ApiError(400, "IMG.0048", f"The image {iid} is in status {r['status']} and cannot be deleted.",
                           "error")
        r.update({"_deleted": True, "_gone": True})
        return 204, None

    def BatchAddMembers(self, c):
        b = c.body or {}
        images, projects = b.get("images") or [], b.get("projects") or []
        if not images or not projects:
            raise ApiError(400, "IMG.0001", "`images` and `projects` are required.", "error")
        recs = []
        for iid in images:
            r = self.own_image(c, iid)
            if r["status"] != "active":
                raise ApiError(400, "IMG.0049", f"The image {iid} is not active.", "error")
            recs.append(r)
        for p in projects:
            if not (len(p) == 32 and all(ch in string.hexdigits for ch in p)):
                raise ApiError(400, "IMG.0001", f"The project ID `{p}` is invalid.", "error")

        def add(_j):
            for r in recs:
                for p in projects:
                    r["_members"][p] = {"member_id": p, "image_id": r["id"], "status": "pending",
                                        "created_at": iso_now(), "updated_at": iso_now(),
                                        "schema": "/v2/schemas/member"}
        return 200, {"job_id": self.new_job(c.region, c.project, "batchAddMembers", {}, "image_members",
                                            on_done=add)}

    def GlanceListImageMembers(self, c, iid):
        r = self.own_image(c, iid)
        return 200, {"members": list(r["_members"].values()), "schema": "/v2/schemas/members"}

    def ListImageTags(self, c, iid):
        r = self.own_image(c, iid)
        return 200, {"tags": [{"key": k, "value": v} for k, v in r["_tags"].items()]}

    def AddImageTag(self, c, iid):
        r = self.own_image(c, iid)
        t = (c.body or {}).get("tag") or {}
        if not t.get("key"):
            raise ApiError(400, "IMG.0001", "`tag.key` is required.", "error")
        r["_tags"][t["key"]] = t.get("value", "")
        return 204, None

    def DeleteImageTag(self, c, iid, key):
        r = self.own_image(c, iid)
        if key not in r["_tags"]:
            raise ApiError(404, "IMG.0027", f"The tag {key} of image {iid} does not exist.", "error")
        del r["_tags"][key]
        return 204, None

    # IAM ---------------------------------------------------------------
    def project_of(self, region):
        """The project named `region` of the account: the fake's own project
        for its default region."""
        pid = self.st.cfg.project_id if region == self.st.cfg.region else \
            hashlib.md5(f"{DOMAIN_ID}/{region}".encode()).hexdigest()
        return {"id": pid, "name": region, "domain_id": DOMAIN_ID, "parent_id": DOMAIN_ID, "is_domain": False,
                "enabled": True, "description": "",
                "links": {"self": f"https://iam.myhuaweicloud.com/v3/projects/{pid}"}}

    def KeystoneListProjects(self, c):
        """The account's projects (one per region), filtered by `name`,
        `domain_id`, `parent_id`, `enabled`, `is_domain`."""
        out = []
        for region in REGIONS:
            p = self.project_of(region)
            if any(k in c.q and str(p[k]).lower() != c.q[k].lower()
                   for k in ("name", "domain_id", "parent_id", "enabled", "is_domain")):
                continue
            out.append(p)
        return 200, {"projects": out, "links": {"self": "https://iam.myhuaweicloud.com/v3/projects",
                                                "previous": None, "next": None}}

    def KeystoneListAuthDomains(self, c):
        return 200, {"domains": [{"id": DOMAIN_ID, "name": "kiln-fake-account", "enabled": True, "description": "",
                                  "links": {"self": f"https://iam.myhuaweicloud.com/v3/domains/{DOMAIN_ID}"}}],
                     "links": {"self": "https://iam.myhuaweicloud.com/v3/auth/domains"}}

    # VPC ---------------------------------------------------------------

    def vpc_err(self, status, code, msg):
        return ApiError(status, code, msg, "flat")

    def CreateVpc(self, c):
        v = (c.body or {}).get("vpc") or {}
        cidr = v.get("cidr") or "192.168.0.0/16"
        try:
            net = ipaddress.ip_network(cidr)
        except ValueError:
            raise self.vpc_err(400, "VPC.0003", f"Invalid cidr `{cidr}`.")
        if net.prefixlen < 8 or net.prefixlen > 28 or not net.is_private:
            raise self.vpc_err(400, "VPC.0003", f"Invalid cidr `{cidr}`: a private block from /8 to /28.")
        vid = str(uuid.uuid4())
        r = {"id": vid, "name": v.get("name") or f"vpc-{vid[:4]}", "cidr": cidr, "status": "CREATING",
             "description": v.get("description", ""), "routes": [], "enterprise_project_id": "0",
             "_region": c.region, "_tags": {}, "_next": []}
        self.st.res["vpc"][vid] = r
        self.st.later(r, "vpc", {"status": "OK"})
        return 200, {"vpc": public(r)}

    def vpc(self, c, vid):
        r = self.st.res["vpc"].get(vid)
        if r is None or r["_region"] != c.region:
            raise self.vpc_err(404, "VPC.0101", f"The VPC {vid} does not exist.")
        return r

    def ShowVpc(self, c, vid):
        return 200, {"vpc": public(self.vpc(c, vid))}

    def ListVpcs(self, c):
        return 200, {"vpcs": [public(r) for r in self.st.res["vpc"].values() if r["_region"] == c.region]}

    def DeleteVpc(self, c, vid):
        r = self.vpc(c, vid)
        if any(s["vpc_id"] == vid for s in self.st.res["subnet"].values()):
            raise self.vpc_err(409, "VPC.0016", f"The VPC {vid} still has subnets.")
        if any(g["vpc_id"] == vid for g in self.st.res["security_group"].values()):
            raise self.vpc_err(409, "VPC.0016", f"The VPC {vid} still has security groups.")
        del self.st.res["vpc"][r["id"]]
        return 204, None

    def CreateSubnet(self, c):
        s = (c.body or {}).get("subnet") or {}
        for k in ("name", "cidr", "gateway_ip", "vpc_id"):
            if not s.get(k):
                raise self.vpc_err(400, "VPC.0201", f"`subnet.{k}` is required.")
        vpc = self.st.res["vpc"].get(s["vpc_id"])
        if not vpc or vpc["_region"] != c.region:
            raise self.vpc_err(404, "VPC.0202", f"The VPC {s['vpc_id']} does not exist.")
        try:
            net = ipaddress.ip_network(s["cidr"])
            ok = net.subnet_of(ipaddress.ip_network(vpc["cidr"])) and ipaddress.ip_address(s["gateway_ip"]) in net
        except ValueError:
            ok = False
        if not ok:
            raise self.vpc_err(400, "VPC.0203", f"The subnet cidr `{s['cidr']}` or gateway `{s['gateway_ip']}` "
                                                f"does not fit the VPC's `{vpc['cidr']}`.")
        sid = str(uuid.uuid4())
        r = {"id": sid, "name": s["name"], "cidr": s["cidr"], "gateway_ip": s["gateway_ip"], "vpc_id": vpc["id"],
             "status": "UNKNOWN", "dhcp_enable": s.get("dhcp_enable", True), "primary_dns": "100.125.1.250",
             "availability_zone": s.get("availability_zone", ""), "neutron_network_id": sid,
             "neutron_subnet_id": str(uuid.uuid4()), "_region": c.region, "_tags": {}, "_next": []}
        self.st.res["subnet"][sid] = r
        self.st.later(r, "subnet", {"status": "ACTIVE"})
        return 200, {"subnet": public(r)}

    def subnet(self, c, sid):
        r = self.st.res["subnet"].get(sid)
        if r is None or r["_region"] != c.region:
            raise self.vpc_err(404, "VPC.0202", f"The subnet {sid} does not exist.")
        return r

    def ShowSubnet(self, c, sid):
        return 200, {"subnet": public(self.subnet(c, sid))}

    def ListSubnets(self, c):
        return 200, {"subnets": [public(r) for r in self.st.res["subnet"].values()
                                 if r["_region"] == c.region and (not c.q.get("vpc_id") or r["vpc_id"] == c.q["vpc_id"])]}

    def DeleteSubnet(self, c, vid, sid):
        r = self.subnet(c, sid)
        if r["vpc_id"] != vid:
            raise self.vpc_err(404, "VPC.0202", f"The subnet {sid} is not in VPC {vid}.")
        if any(s["_subnet"] == sid for s in self.st.res["server"].values()):
            raise self.vpc_err(409, "VPC.0211", f"The subnet {sid} still has ports in use.")
        del self.st.res["subnet"][sid]
        return 204, None

    def CreateSecurityGroup(self, c):
        g = (c.body or {}).get("security_group") or {}
        if not g.get("name"):
            raise self.vpc_err(400, "VPC.0601", "`security_group.name` is required.")
        if g.get("vpc_id"):
            self.vpc(c, g["vpc_id"])
        gid = str(uuid.uuid4())
        rules = []
        for eth in ("IPv4", "IPv6"):
            rid_ = str(uuid.uuid4())
            rule = {"id": rid_, "security_group_id": gid, "direction": "egress", "ethertype": eth,
                    "protocol": None, "port_range_min": None, "port_range_max": None,
                    "remote_ip_prefix": None, "remote_group_id": None, "description": "",
                    "_region": c.region, "_next": []}
            self.st.res["security_group_rule"][rid_] = rule
            rules.append(rid_)
        r = {"id": gid, "name": g["name"], "vpc_id": g.get("vpc_id", ""), "description": g.get("description", ""),
             "enterprise_project_id": "0", "_region": c.region, "_tags": {}, "_next": []}
        self.st.res["security_group"][gid] = r
        return 200, {"security_group": self.sg_view(r)}

    def sg_view(self, r):
        v = public(r)
        v["security_group_rules"] = [public(x) for x in self.st.res["security_group_rule"].values()
                                     if x["security_group_id"] == r["id"]]
        return v

    def sg(self, c, gid):
        r = self.st.res["security_group"].get(gid)
        if r is None or r["_region"] != c.region:
            raise self.vpc_err(404, "VPC.0602", f"The security group {gid} does not exist.")
        return r

    def ShowSecurityGroup(self, c, gid):
        return 200, {"security_group": self.sg_view(self.sg(c, gid))}

    def ListSecurityGroups(self, c):
        return 200, {"security_groups": [self.sg_view(r) for r in self.st.res["security_group"].values()
                                         if r["_region"] == c.region
                                         and (not c.q.get("vpc_id") or r["vpc_id"] == c.q["vpc_id"])]}

    def DeleteSecurityGroup(self, c, gid):
        self.sg(c, gid)
        if any(any(g["id"] == gid for g in s["security_groups"]) for s in self.st.res["server"].values()):
            raise self.vpc_err(409, "VPC.0607", f"The security group {gid} is in use.")
        for k in [k for k, x in self.st.res["security_group_rule"].items() if x["security_group_id"] == gid]:
            del self.st.res["security_group_rule"][k]
        del self.st.res["security_group"][gid]
        return 204, None

    def CreateSecurityGroupRule(self, c):
        g = (c.body or {}).get("security_group_rule") or {}
        sg = self.sg(c, g.get("security_group_id") or "")
        if g.get("direction") not in ("ingress", "egress"):
            raise self.vpc_err(400, "VPC.0603", "`direction` must be `ingress` or `egress`.")
        lo, hi = g.get("port_range_min"), g.get("port_range_max")
        if (lo is None) != (hi is None) or (lo is not None and not (1 <= lo <= hi <= 65535)):
            raise self.vpc_err(400, "VPC.0604", f"Invalid port range {lo}-{hi}.")
        for x in self.st.res["security_group_rule"].values():
            if x["security_group_id"] == sg["id"] and all(
                    x.get(k) == g.get(k) for k in ("direction", "protocol", "port_range_min", "port_range_max",
                                                  "remote_ip_prefix")) and x["ethertype"] == g.get("ethertype", "IPv4"):
                raise self.vpc_err(409, "VPC.0605", "The security group rule already exists.")
        rid_ = str(uuid.uuid4())
        rule = {"id": rid_, "security_group_id": sg["id"], "direction": g["direction"],
                "ethertype": g.get("ethertype", "IPv4"), "protocol": g.get("protocol"), "port_range_min": lo,
                "port_range_max": hi, "remote_ip_prefix": g.get("remote_ip_prefix"),
                "remote_group_id": g.get("remote_group_id"), "description": g.get("description", ""),
                "_region": c.region, "_next": []}
        self.st.res["security_group_rule"][rid_] = rule
        return 200, {"security_group_rule": public(rule)}

    def DeleteSecurityGroupRule(self, c, rid_):
        r = self.st.res["security_group_rule"].get(rid_)
        if r is None or r["_region"] != c.region:
            raise self.vpc_err(404, "VPC.0606", f"The security group rule {rid_} does not exist.")
        del self.st.res["security_group_rule"][rid_]
        return 204, None

    # tags (VPC v2.0 and EIP v2.0 tag APIs) -----------------------------
    TAG_KINDS = {"vpcs": "vpc", "subnets": "subnet", "security-groups": "security_group", "publicips": "eip"}

    def CreateResourceTag(self, c, kind, xid):
        r = self.st.res[self.TAG_KINDS[kind]].get(xid)
        if r is None or r["_region"] != c.region:
            raise self.vpc_err(404, "VPC.0101", f"The resource {xid} does not exist.")
        t = (c.body or {}).get("tag") or {}
        if not t.get("key"):
            raise self.vpc_err(400, "VPC.0101", "`tag.key` is required.")
        r["_tags"][t["key"]] = t.get("value", "")
        return 204, None

    def ListResourceTags(self, c, kind, xid):
        r = self.st.res[self.TAG_KINDS[kind]].get(xid)
        if r is None or r["_region"] != c.region:
            raise self.vpc_err(404, "VPC.0101", f"The resource {xid} does not exist.")
        return 200, {"tags": [{"key": k, "value": v} for k, v in r["_tags"].items()]}

    # EIP ---------------------------------------------------------------
    def CreatePublicip(self, c):
        b = c.body or {}
        p, bw = b.get("publicip") or {}, b.get("bandwidth") or {}
        if p.get("type") not in EIP_TYPES:
            raise self.vpc_err(400, "EIP.0101", f"The EIP type `{p.get('type')}` is invalid in this region.")
        size = bw.get("size")
        if bw.get("share_type") not in ("PER", "WHOLE") or (bw.get("share_type") == "PER" and
                                                            not (isinstance(size, int) and 1 <= size <= 2000)):
            raise self.vpc_err(400, "EIP.0102", "The bandwidth is invalid: `share_type` PER with a `size` of 1 to 2000.")
        eid = str(uuid.uuid4())
        r = {"id": eid, "status": "PENDING_CREATE", "type": p["type"], "public_ip_address": self.st.cfg.public_ip,
             "private_ip_address": None, "port_id": None, "ip_version": 4, "bandwidth_size": size,
             "bandwidth_share_type": bw["share_type"], "bandwidth_name": bw.get("name", ""),
             "bandwidth_id": str(uuid.uuid4()), "create_time": iso_now().replace("T", " ").rstrip("Z"),
             "tenant_id": c.project, "enterprise_project_id": "0",
             "_region": c.region, "_tags": {}, "_next": []}
        self.st.res["eip"][eid] = r
        self.st.later(r, "eip", lambda r: r.update({"status": "ACTIVE" if r.get("port_id") else "DOWN"}))
        return 200, {"publicip": public(r)}

    def eip(self, c, eid):
        r = self.st.res["eip"].get(eid)
        if r is None or r["_region"] != c.region:
            raise self.vpc_err(404, "EIP.7802", f"The EIP {eid} does not exist.")
        return r

    def ShowPublicip(self, c, eid):
        return 200, {"publicip": public(self.eip(c, eid))}

    def ListPublicips(self, c):
        out = sorted((r for r in self.st.res["eip"].values() if r["_region"] == c.region), key=lambda r: r["id"])
        if c.q.get("marker"):
            out = [r for r in out if r["id"] > c.q["marker"]]
        limit = int(c.q.get("limit") or 1000)
        return 200, {"publicips": [public(r) for r in out[:limit]]}

    def UpdatePublicip(self, c, eid):
        r = self.eip(c, eid)
        if r["status"] == "PENDING_CREATE":
            raise self.vpc_err(409, "EIP.7904", f"The EIP {eid} is still being created.")
        upd = (c.body or {}).get("publicip") or {}
        if "port_id" in upd:
            port = upd["port_id"]
            if port:
                if r.get("port_id") and r["port_id"] != port:
                    raise self.vpc_err(409, "EIP.7903", f"The EIP {eid} is already bound to port {r['port_id']}.")
                srv = next((s for s in self.st.res["server"].values() if s["_port"] == port and not s.get("_deleted")),
                           None)
                if srv is None:
                    raise self.vpc_err(404, "EIP.7801", f"The port {port} does not exist.")
                r.update({"port_id": port, "private_ip_address": srv["_ip"], "status": "ACTIVE"})
                srv["_eip"] = eid
                addrs = srv["addresses"][srv["_vpc"]]
                if not any(a["OS-EXT-IPS:type"] == "floating" for a in addrs):
                    addrs.append({"version": "4", "addr": r["public_ip_address"], "OS-EXT-IPS:type": "floating",
                                  "OS-EXT-IPS:port-id": port})
            else:
                for srv in self.st.res["server"].values():
                    if srv["_port"] == r.get("port_id"):
                        srv["_eip"] = None
                        srv["addresses"][srv["_vpc"]] = [a for a in srv["addresses"][srv["_vpc"]]
                                                         if a["OS-EXT-IPS:type"] != "floating"]
                r.update({"port_id": None, "private_ip_address": None, "status": "DOWN"})
        return 200, {"publicip": public(r)}

    def DeletePublicip(self, c, eid):
        r = self.eip(c, eid)
        if r.get("port_id"):
            raise self.vpc_err(409, "EIP.7902", f"The EIP {eid} is bound to port {r['port_id']}: unbind it first.")
        del self.st.res["eip"][eid]
        return 204, None


# ---------------------------------------------------------------- routing

ROUTES = [
    # (service, method, path pattern, operation)
    ("ecs", "GET", "/v2.1/{p}/os-availability-zone", "NovaListAvailabilityZones"),
    ("ecs", "GET", "/v2.1/{p}/flavors/{}", "NovaShowFlavor"),
    ("ecs", "GET", "/v1/{p}/cloudservers/flavors", "ListFlavors"),
    ("ecs", "POST", "/v2.1/{p}/os-keypairs", "NovaCreateKeypair"),
    ("ecs", "POST", "/v2/{p}/os-keypairs", "NovaCreateKeypair"),
    ("ecs", "GET", "/v2.1/{p}/os-keypairs", "NovaListKeypairs"),
    ("ecs", "GET", "/v2.1/{p}/os-keypairs/{}", "NovaShowKeypair"),
    ("ecs", "DELETE", "/v2.1/{p}/os-keypairs/{}", "NovaDeleteKeypair"),
    ("ecs", "DELETE", "/v2/{p}/os-keypairs/{}", "NovaDeleteKeypair"),
    ("ecs", "POST", "/v1/{p}/cloudservers", "CreatePostPaidServers"),
    ("ecs", "GET", "/v1/{p}/cloudservers/detail", "ListServersDetails"),
    ("ecs", "POST", "/v1/{p}/cloudservers/action", "BatchStopServers"),
    ("ecs", "POST", "/v1/{p}/cloudservers/delete", "DeleteServers"),
    ("ecs", "GET", "/v1/{p}/cloudservers/{}/os-interface", "ListServerInterfaces"),
    ("ecs", "GET", "/v1/{p}/cloudservers/{}", "ShowServer"),
    ("ecs", "GET", "/v1/{p}/jobs/{}", "ShowJob"),
    ("ims", "GET", "/v2/cloudimages", "ListImages"),
    ("ims", "POST", "/v2/cloudimages/action", "CreateImage"),
    ("ims", "POST", "/v1/cloudimages/wholeimages/action", "CreateWholeImage"),
    ("ims", "PATCH", "/v2/cloudimages/{}", "GlanceUpdateImage"),
    ("ims", "POST", "/v1/cloudimages/members", "BatchAddMembers"),
    ("ims", "GET", "/v2/images", "GlanceListImages"),
    ("ims", "GET", "/v2/images/{}", "GlanceShowImage"),
    ("ims", "PATCH", "/v2/images/{}", "GlanceUpdateImage"),
    ("ims", "DELETE", "/v2/images/{}", "GlanceDeleteImage"),
    ("ims", "GET", "/v2/images/{}/members", "GlanceListImageMembers"),
    ("ims", "GET", "/v2/{p}/images/{}/tags", "ListImageTags"),
    ("ims", "POST", "/v2/{p}/images/{}/tags", "AddImageTag"),
    ("ims", "DELETE", "/v2/{p}/images/{}/tags/{}", "DeleteImageTag"),
    ("vpc", "POST", "/v1/{p}/vpcs", "CreateVpc"),
    ("vpc", "GET", "/v1/{p}/vpcs", "ListVpcs"),
    ("vpc", "GET", "/v1/{p}/vpcs/{}", "ShowVpc"),
    ("vpc", "DELETE", "/v1/{p}/vpcs/{}", "DeleteVpc"),
    ("vpc", "POST", "/v1/{p}/subnets", "CreateSubnet"),
    ("vpc", "GET", "/v1/{p}/subnets", "ListSubnets"),
    ("vpc", "GET", "/v1/{p}/subnets/{}", "ShowSubnet"),
    ("vpc", "DELETE", "/v1/{p}/vpcs/{}/subnets/{}", "DeleteSubnet"),
    ("vpc", "POST", "/v1/{p}/security-groups", "CreateSecurityGroup"),
    ("vpc", "GET", "/v1/{p}/security-groups", "ListSecurityGroups"),
    ("vpc", "GET", "/v1/{p}/security-groups/{}", "ShowSecurityGroup"),
    ("vpc", "DELETE", "/v1/{p}/security-groups/{}", "DeleteSecurityGroup"),
    ("vpc", "POST", "/v1/{p}/security-group-rules", "CreateSecurityGroupRule"),
    ("vpc", "DELETE", "/v1/{p}/security-group-rules/{}", "DeleteSecurityGroupRule"),
    ("vpc", "POST", "/v2.0/{p}/{kind}/{}/tags", "CreateResourceTag"),
    ("vpc", "GET", "/v2.0/{p}/{kind}/{}/tags", "ListResourceTags"),
    ("eip", "POST", "/v1/{p}/publicips", "CreatePublicip"),
    ("eip", "GET", "/v1/{p}/publicips", "ListPublicips"),
    ("eip", "GET", "/v1/{p}/publicips/{}", "ShowPublicip"),
    ("eip", "PUT", "/v1/{p}/publicips/{}", "UpdatePublicip"),
    ("eip", "DELETE", "/v1/{p}/publicips/{}", "DeletePublicip"),
    ("iam", "GET", "/v3/projects", "KeystoneListProjects"),
    ("iam", "GET", "/v3/auth/domains", "KeystoneListAuthDomains"),
]


def route(method, path):
    """(service, operation, project, args) for a request, or None."""
    segs = path.rstrip("/").split("/")
    for svc, m, pat, op in ROUTES:
        if m != method:
            continue
        ps = pat.split("/")
        if len(ps) != len(segs):
            continue
        project, args, ok = None, [], True
        for want, got in zip(ps, segs):
            if want == "{p}":
                project = got
            elif want == "{}":
                args.append(unquote(got))
            elif want == "{kind}":
                if got not in Api.TAG_KINDS:
                    ok = False
                    break
                args.append(got)
            elif want != got:
                ok = False
                break
        if ok:
            if svc == "vpc" and op.endswith("ResourceTag") and args[0] == "publicips":
                svc = "eip"
            return svc, op, project, args
    return None


# ---------------------------------------------------------------- HTTP

class Call:
    """One request's context for an operation."""

    def __init__(self, svc, region, project, user_id, q, body):
        self.svc, self.region, self.project, self.user_id, self.q, self.body = svc, region, project, user_id, q, body


ID_KEYS = ("job_id", "id", "image_id", "server_id")


class Handler(fake_server.Handler):
    config_settable = ("time_scale", "public_ip", "private_ip", "region")
    config_shown = ("region", "project_id")
    keys_name = "access_keys"
    log_name = "huaweicloud-fake"
    fault_defaults = {"code": "APIGW.0308", "status": 429, "message": None}

    # Huawei's answers: no Content-Type on a 204, none but an empty body
    # for `None`, JSON with ASCII escapes.
    def _send(self, status, body, ctype="application/json;charset=UTF-8", headers=None):
        data = body.encode() if isinstance(body, str) else (body or b"")
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status, obj, headers=None):
        self._send(status, "" if obj is None else json.dumps(obj), headers=headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = lambda self: self._dispatch()

    def _region(self):
        """The region of the Host (`ecs.cn-north-4.myhuaweicloud.com`), else
        the fake's default region."""
        parts = self._host().split(".")
        if len(parts) >= 4 and parts[1] in REGIONS:
            return parts[1]
        return self.st.cfg.region

    def _dispatch(self):
        try:
            url = urlsplit(self.path)
            body = self._body()
            if url.path.startswith("/_fake/"):
                return self._admin(url, body)
            self._api(url, body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _error(self, e, svc, op, project, req_id):
        self._record(svc, op, project, e.status, e.code, {}, {})
        style = e.style or ("flat" if svc in ("vpc", "eip") else "error")
        if style == "apigw":
            body = {"error_code": e.code, "error_msg": e.message, "request_id": req_id}
        elif style == "flat":
            body = {"code": e.code, "message": e.message}
        else:
            body = {"error": {"code": e.code, "message": e.message}}
        self._json(e.status, body, headers={"X-Request-Id": req_id})

    def _record(self, svc, op, project, status, code, q, ids, body=None):
        # `query` and `body` (the JSON sent) let tests check what a call
        # asked for.
        with self.st.lock:
            self.st.seq += 1
            self.st.log.append({"seq": self.st.seq, "time": iso_now(), "service": svc, "action": op,
                                "region": self._region(), "project": project or "", "method": self.command,
                                "path": urlsplit(self.path).path, "status": status, "code": code, "ids": ids,
                                "query": q, "body": body,
                                "host": self._host(),
                                "scheme": self._scheme()})

    def _authenticate(self, url, body):
        """Checks the SDK-HMAC-SHA256 signature; the access key's user id."""
        auth = self.headers.get("Authorization") or ""
        bad = lambda why: ApiError(401, "APIGW.0301", f"Incorrect IAM authentication information: {why}", "apigw")
        if not auth.startswith("SDK-HMAC-SHA256 "):
            raise bad("Authorization header is missing or not SDK-HMAC-SHA256")
        fields = {}
        for part in auth[len("SDK-HMAC-SHA256 "):].split(","):
            k, _, v = part.strip().partition("=")
            fields[k] = v
        ak, signed, sig = fields.get("Access", ""), fields.get("SignedHeaders", ""), fields.get("Signature", "")
        if ak not in self.st.cfg.keys:
            raise bad(f"ak {ak} not exist")
        date = self.headers.get("X-Sdk-Date") or ""
        try:
            t = dt.datetime.strptime(date, DATE_FORMAT).replace(tzinfo=dt.timezone.utc).timestamp()
        except ValueError:
            raise bad("verify aksk signature fail, X-Sdk-Date is missing or malformed")
        if abs(time.time() - t) > MAX_SKEW:
            raise bad("verify aksk signature fail, request expired (X-Sdk-Date too far from now)")
        names = [h for h in signed.split(";") if h]
        if "x-sdk-date" not in names or "host" not in names:
            raise bad("verify aksk signature fail, host and x-sdk-date must be signed")
        headers = {k.lower(): v for k, v in self.headers.items()}
        sts = string_to_sign(self.command, url.path, url.query, headers, names, body, date)
        if not hmac.compare_digest(sign(self.st.cfg.keys[ak], sts), sig):
            raise bad("verify aksk signature fail")
        return "u" + hashlib.md5(ak.encode()).hexdigest()[:31]

    def _api(self, url, body):
        req_id = uuid.uuid4().hex
        found = route(self.command, url.path)
        if found is None:
            self._record("", "", "", 404, "APIGW.0101", {}, {})
            return self._json(404, {"error_code": "APIGW.0101",
                                    "error_msg": "The API does not exist or has not been published in the environment",
                                    "request_id": req_id}, headers={"X-Request-Id": req_id})
        svc, op, project, args = found
        try:
            user_id = self._authenticate(url, body)
            if project is not None:
                want = self.headers.get("X-Project-Id")
                if want and want != project:
                    raise ApiError(400, "APIGW.0106", "The X-Project-Id header does not match the URL's project.",
                                   "apigw")
            else:
                project = self.headers.get("X-Project-Id") or self.st.cfg.project_id
            fault = self._fault(op)
            if fault:
                raise fault
            try:
                data = json.loads(body) if body else None
            except ValueError:
                raise ApiError(400, "Ecs.0005" if svc == "ecs" else "APIGW.0201", "The request body is not JSON.")
            q = dict(parse_qsl(url.query, keep_blank_values=True))
            with self.st.lock:
                self.st.settle()
                status, out = getattr(self.api, op)(Call(svc, self._region(), project, user_id, q, data), *args)
        except ApiError as e:
            return self._error(e, svc, op, project, req_id)
        ids = {}
        for k in ID_KEYS:
            if isinstance(out, dict) and isinstance(out.get(k), str):
                ids[k] = out[k]
        if args:
            ids["arg"] = args[-1]
        self._record(svc, op, project, status, None, q, ids, data)
        self._json(status, out, headers={"X-Request-Id": req_id})

    def _fault(self, op):
        """The next injected fault for `op` as an error, if any."""
        f = fake_server.take_fault(self.st, op)
        if f is None:
            return None
        code = f["code"]
        style = "apigw" if code.startswith("APIGW.") else None
        return ApiError(int(f["status"]), code, f.get("message") or f"{code} (injected by the fake)", style)

    def resources_view(self):
        # Public images and jobs left out; `region`, `tags` and image members
        # shown.
        out = {}
        for kind, table in self.st.res.items():
            rows = []
            for r in table.values():
                if r.get("_public") or (kind == "job"):
                    continue
                v = public(r)
                v["region"] = r.get("_region")
                if "_tags" in r:
                    v["tags"] = r["_tags"]
                if kind == "image":
                    v["members"] = sorted(r["_members"])
                rows.append(v)
            out[kind] = rows
        return out

    def authorized_keys(self, everything):
        # The key pairs of ACTIVE servers.
        st = self.st
        return [(r["public_key"], r["name"]) for r in st.res["keypair"].values()
                if everything or any(s["key_name"] == r["name"] and s["_region"] == r["_region"]
                                     and s["status"] == "ACTIVE" for s in st.res["server"].values())]

    def _admin_missing(self, path):
        self._json(404, {"error_code": "APIGW.0101", "error_msg": f"no admin endpoint `{path}`"})


def endpoint_hosts():
    hosts = []
    for r in REGIONS:
        for s in ("ecs", "ims", "vpc", "eip", "evs", "iam"):
            hosts.append(f"{s}.{r}.myhuaweicloud.com")
    return hosts + ["iam.myhuaweicloud.com", "localhost"]


# ---------------------------------------------------------------- main

class Config(fake_server.Config):
    def __init__(self, a):
        super().__init__(a, fake_server.parse_keys("HUAWEICLOUD_FAKE_KEYS", "HWFAKEACCESSKEY0001",
                                                   os.environ.get("HUAWEICLOUD_FAKE_SECRET", "fakesecretkey")))
        self.region = a.region
        self.project_id = a.project_id


def more_arguments(ap):
    ap.add_argument("--region", default=DEFAULT_REGION, help="the region of requests whose Host names none")
    ap.add_argument("--project-id", default="0b0ff3a5fa804c0e8f1d7e5b2a9c4d61",
                    help="the project of calls whose path names none (IMS)")


def main():
    fake_server.main("huaweicloud", "A FAKE Huawei Cloud API (ECS, IMS, VPC, EIP) for tests, on loopback.", Handler,
                     lambda a: State(Config(a)), Api, endpoint_hosts(), "kiln FAKE Huawei Cloud CA",
                     more_arguments=more_arguments)


if __name__ == "__main__":
    main()
