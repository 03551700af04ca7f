#!/usr/bin/env python3
"""A FAKE Tencent Cloud API server for kiln's tests (not Tencent's code).

It answers the CVM (2017-03-12), VPC (2017-03-12) and Tag (2018-08-13) actions that Packer's
tencentcloud-cvm builder and tencentcloud-sdk-python call, on loopback only,
over plain HTTP and HTTPS (a CA generated at start, with SANs for Tencent's
endpoint host names). Requests are signed and checked as Tencent checks them:
TC3-HMAC-SHA256 (`Authorization`, `X-TC-Timestamp`, `X-TC-Action`,
`X-TC-Version`, `X-TC-Region`), with unknown keys, bad signatures and clock
skew rejected with Tencent's codes in Tencent's body
`{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`.

Instances move PENDING -> RUNNING -> STOPPING -> STOPPED (and TERMINATING),
with `LatestOperation` / `LatestOperationState`; images CREATING -> NORMAL
(copies SYNCING -> NORMAL), after realistic delays multiplied by a time scale.

Admin endpoints (not Tencent's): GET /_fake/resources, GET /_fake/requests,
POST /_fake/reset, GET|POST /_fake/config, GET /_fake/delays,
GET|POST /_fake/faults, GET /_fake/authorized_keys.

Run `tencentcloud_fake.py --help`; README.md beside this file says more.
"""

import hashlib
import hmac
import ipaddress
import json
import os
import sys
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared"))
import fake_server  # noqa: E402  (fakes/shared: what every fake does alike)

# ---------------------------------------------------------------- catalogue

REGIONS = {
    "ap-bangkok": "Bangkok", "ap-beijing": "Beijing", "ap-chengdu": "Chengdu", "ap-chongqing": "Chongqing",
    "ap-guangzhou": "Guangzhou", "ap-hongkong": "Hong Kong", "ap-jakarta": "Jakarta", "ap-mumbai": "Mumbai",
    "ap-nanjing": "Nanjing", "ap-seoul": "Seoul", "ap-shanghai": "Shanghai", "ap-singapore": "Singapore",
    "ap-tokyo": "Tokyo", "eu-frankfurt": "Frankfurt", "eu-moscow": "Moscow", "na-ashburn": "Virginia",
    "na-siliconvalley": "Silicon Valley", "na-toronto": "Toronto", "sa-saopaulo": "Sao Paulo",
}
ZONE_NUMBERS = [1, 2, 3]
INSTANCE_TYPES = {"S2.SMALL1": (1, 1), "S3.SMALL1": (1, 1), "S5.MEDIUM2": (2, 2), "S5.MEDIUM4": (2, 4),
                  "SA2.MEDIUM4": (2, 4), "S5.LARGE8": (4, 8)}
DISK_TYPES = ["LOCAL_BASIC", "LOCAL_SSD", "CLOUD_BASIC", "CLOUD_SSD", "CLOUD_PREMIUM"]
PUBLIC_IMAGES = [
    # (image id, name, OS name, platform, size GiB)
    ("img-pi0ii46r", "Ubuntu Server 18.04.1 LTS 64位", "Ubuntu Server 18.04.1 LTS 64位", "Ubuntu", 20),
    ("img-22trbn9x", "Ubuntu Server 20.04 LTS 64位", "Ubuntu Server 20.04 LTS 64位", "Ubuntu", 20),
    ("img-9qabwvbn", "CentOS 7.6 64位", "CentOS 7.6 64位", "CentOS", 20),
    ("img-6ns5om13", "Debian 10.2 64位", "Debian 10.2 64位", "Debian", 20),
]
# Realistic durations in seconds, multiplied by the time scale.
DELAYS = {"instance_create": 10, "instance_start": 10, "instance_stop": 15, "instance_terminate": 5,
          "image_create": 60, "image_sync": 120, "key_detach": 2}
CVM_VERSION = "2017-03-12"
VPC_VERSION = "2017-03-12"
TAG_VERSION = "2018-08-13"
MAX_SKEW = 5 * 60
OWNER_UIN = "100012345678"
HOST_SUFFIX = ".tencentcloudapi.com"
SECRET_PARAMS = {"Password"}
ID_KEYS = ["InstanceId", "ImageId", "VpcId", "SubnetId", "SecurityGroupId", "KeyId"]
ID_LIST_KEYS = ["InstanceIds", "ImageIds", "VpcIds", "SubnetIds", "SecurityGroupIds", "KeyIds"]


class ApiError(Exception):
    """An error answered with Tencent's error body (HTTP 200, as Tencent does)."""

    def __init__(self, code, message):
        super().__init__(code)
        self.code = code
        self.message = message


def rand_id(prefix):
    return fake_server.rand_id(prefix + "-")


iso = fake_server.iso_time


def tags_of(items):
    """`[{Key, Value}]` as a dict."""
    return {t.get("Key", ""): t.get("Value", "") for t in (items or []) if isinstance(t, dict)}


def spec_tags(p, rtype):
    """`TagSpecification: [{ResourceType, Tags: [{Key, Value}]}]` for one resource type."""
    out = {}
    for spec in p.get("TagSpecification") or []:
        if spec.get("ResourceType") == rtype:
            out.update(tags_of(spec.get("Tags")))
    return out


def tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def unflatten(pairs):
    """GET parameters (`Filters.0.Values.1=x`) as the JSON body they stand for."""
    root = {}
    for key, value in pairs:
        parts = key.split(".")
        cur = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = parts[i + 1] if not last else None
            if isinstance(cur, list):
                idx = int(part)
                while len(cur) <= idx:
                    cur.append(None)
                if last:
                    cur[idx] = value
                else:
                    if cur[idx] is None:
                        cur[idx] = [] if nxt.isdigit() else {}
                    cur = cur[idx]
            else:
                if last:
                    cur[part] = value
                else:
                    cur = cur.setdefault(part, [] if nxt.isdigit() else {})
    return root


def as_int(v, name, default=None):
    if v is None or v == "":
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        raise ApiError("InvalidParameterValue", f"The value `{v}` of parameter `{name}` is not an integer.")


def as_bool(v):
    return v is True or str(v).lower() in ("true", "1")


def str_list(p, name):
    v = p.get(name)
    if v is None:
        return []
    if not isinstance(v, list):
        raise ApiError("InvalidParameter", f"The parameter `{name}` must be a list.")
    return [str(x) for x in v]


def filters_of(p):
    """`Filters: [{Name, Values}]` as a dict of lists."""
    out = {}
    for f in p.get("Filters") or []:
        if not isinstance(f, dict) or "Name" not in f:
            raise ApiError("InvalidFilter", "A filter needs a `Name`.")
        out[f["Name"]] = [str(v) for v in f.get("Values") or []]
    return out


def tag_filter_ok(flt, tags):
    for name, values in flt.items():
        if name == "tag-key" and not any(v in tags for v in values):
            return False
        if name.startswith("tag:") and tags.get(name[4:]) not in values:
            return False
    return True


def page(items, p, default_limit=20):
    offset = as_int(p.get("Offset"), "Offset", 0)
    limit = as_int(p.get("Limit"), "Limit", default_limit)
    if limit < 0 or limit > 100 or offset < 0:
        raise ApiError("InvalidParameterValue.Range", "`Offset` or `Limit` is out of range.")
    return items[offset:offset + limit]


# ---------------------------------------------------------------- state


class State(fake_server.State):
    """Everything the fake holds; one lock guards it all."""

    def reset(self):
        with self.lock:
            self.res = {k: {} for k in ("instance", "image", "vpc", "subnet", "security_group", "key_pair")}
            self.log = []
            self.faults = []
            self.tokens = {}
            self.seq = 0
            self.ip_seq = 10
            for region in REGIONS:
                for img, name, osname, platform, size in PUBLIC_IMAGES:
                    self.res["image"][img + "@" + region] = {
                        "ImageId": img, "Region": region, "ImageName": name, "OsName": osname,
                        "ImageType": "PUBLIC_IMAGE", "CreatedTime": "2020-06-01T00:00:00Z",
                        "ImageDescription": name, "ImageSize": size, "Architecture": "x86_64",
                        "ImageState": "NORMAL", "Platform": platform, "ImageCreator": "",
                        "ImageSource": "OFFICIAL", "SyncPercent": 100, "IsSupportCloudinit": True,
                        "SnapshotSet": [], "Tags": {}, "shared": [], "_public": True, "_next": [],
                    }

    def later(self, res, kind, updates, after=0.0):
        """Applies `updates` to `res` `kind`'s scaled delay (plus `after`) from now."""
        return self.at(res, after + DELAYS[kind] * self.cfg.time_scale, updates) - time.time()


# ---------------------------------------------------------------- signature


def tc3_signing_key(secret, date, service):
    k = hmac.new(("TC3" + secret).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"tc3_request", hashlib.sha256).digest()


def tc3_signature(secret, date, service, string_to_sign):
    return hmac.new(tc3_signing_key(secret, date, service), string_to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_string_to_sign(method, path, query, headers, signed, body, timestamp, scope):
    ch = "".join(f"{h}:{headers.get(h, '').strip()}\n" for h in signed)
    if headers.get("x-tc-content-sha256") == "UNSIGNED-PAYLOAD":
        body = b"UNSIGNED-PAYLOAD"
    creq = f"{method}\n{path}\n{query}\n{ch}\n{';'.join(signed)}\n{hashlib.sha256(body).hexdigest()}"
    return f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"


# ---------------------------------------------------------------- CVM / VPC


class Api:
    """The actions; each takes the region and the request's params and returns a dict."""

    def __init__(self, st):
        self.st = st
        self.cfg = st.cfg

    # Helpers --------------------------------------------------------------
    def get(self, kind, rid, region, code, label):
        r = self.st.res[kind].get(rid)
        if r is None or r["Region"] != region:
            raise ApiError(code, f"The {label} `{rid}` does not exist.")
        return r

    def owned_images(self, region):
        return [i for i in self.st.res["image"].values() if i["Region"] == region and not i.get("_public")]

    def image_by_id(self, region, iid):
        im = self.st.res["image"].get(iid) or self.st.res["image"].get(iid + "@" + region)
        if im is None or im["Region"] != region:
            raise ApiError("InvalidImageId.NotFound", f"The image `{iid}` does not exist.")
        return im

    def busy(self, i):
        if i["LatestOperationState"] == "OPERATING":
            raise ApiError("OperationDenied.InstanceOperationInProgress",
                           f"The instance `{i['InstanceId']}` has an operation in progress (`{i['LatestOperation']}`).")

    def operate(self, i, op, rid):
        i["LatestOperation"] = op
        i["LatestOperationState"] = "OPERATING"
        i["LatestOperationRequestId"] = rid

    def done(self, i, state=None):
        def upd(x):
            if state:
                x["InstanceState"] = state
            x["LatestOperationState"] = "SUCCESS"
        return upd

    # Zones ----------------------------------------------------------------
    def DescribeZones(self, region, p):
        zones = [{"Zone": f"{region}-{n}", "ZoneName": f"{REGIONS[region]} Zone {n}",
                  "ZoneId": str(100000 + 1000 * list(REGIONS).index(region) + n), "ZoneState": "AVAILABLE"}
                 for n in ZONE_NUMBERS]
        return {"TotalCount": len(zones), "ZoneSet": zones}

    def DescribeRegions(self, region, p):
        rs = [{"Region": r, "RegionName": n, "RegionState": "AVAILABLE"} for r, n in REGIONS.items()]
        return {"TotalCount": len(rs), "RegionSet": rs}

    def zone(self, region, z):
        if z not in {f"{region}-{n}" for n in ZONE_NUMBERS}:
            raise ApiError("InvalidZone.MismatchRegion", f"The zone `{z}` is not in region `{region}`.")
        return z

    # Key pairs ------------------------------------------------------------
    def _new_key(self, region, p, pub):
        name = p.get("KeyName") or ""
        if not name:
            raise ApiError("InvalidKeyPairNameEmpty", "The key pair name is empty.")
        if len(name) > 25:
            raise ApiError("InvalidKeyPairNameTooLong", f"The key pair name `{name}` is longer than 25 characters.")
        if any(not (c.isalnum() or c == "_") for c in name):
            raise ApiError("InvalidKeyPairNameIncludeIllegalChar",
                           f"The key pair name `{name}` may hold only letters, digits and underscores.")
        for k in self.st.res["key_pair"].values():
            if k["KeyName"] == name and k["ProjectId"] == as_int(p.get("ProjectId"), "ProjectId", 0):
                raise ApiError("InvalidKeyPairName.Duplicate", f"The key pair name `{name}` already exists.")
            if k["PublicKey"].split()[:2] == pub.split()[:2]:
                raise ApiError("InvalidPublicKey.Duplicate", "The public key already exists.")
        kid = rand_id("skey")
        k = {"KeyId": kid, "KeyName": name, "Region": region, "ProjectId": as_int(p.get("ProjectId"), "ProjectId", 0),
             "Description": p.get("Description", ""), "PublicKey": pub, "AssociatedInstanceIds": [],
             "CreatedTime": iso(), "Tags": spec_tags(p, "keypair"), "_next": []}
        self.st.res["key_pair"][kid] = k
        return k

    def key_view(self, k, private=None):
        v = {"KeyId": k["KeyId"], "KeyName": k["KeyName"], "ProjectId": k["ProjectId"],
             "Description": k["Description"], "PublicKey": k["PublicKey"],
             "AssociatedInstanceIds": list(k["AssociatedInstanceIds"]), "CreatedTime": k["CreatedTime"],
             "Tags": tag_list(k["Tags"])}
        if private:
            v["PrivateKey"] = private
        return v

    def CreateKeyPair(self, region, p):
        priv, pub = fake_server.keygen()
        k = self._new_key(region, p, pub)
        return {"KeyPair": self.key_view(k, priv)}

    def ImportKeyPair(self, region, p):
        pub = (p.get("PublicKey") or "").strip()
        if not pub.startswith(("ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-")):
            raise ApiError("InvalidPublicKey.Malformed", "The public key is malformed.")
        return {"KeyId": self._new_key(region, p, pub)["KeyId"]}

    def DescribeKeyPairs(self, region, p):
        ids = str_list(p, "KeyIds")
        flt = filters_of(p)
        out = []
        for k in self.st.res["key_pair"].values():
            if ids and k["KeyId"] not in ids:
                continue
            if "key-name" in flt and k["KeyName"] not in flt["key-name"]:
                continue
            if "project-id" in flt and str(k["ProjectId"]) not in flt["project-id"]:
                continue
            if not tag_filter_ok(flt, k["Tags"]):
                continue
            out.append(k)
        return {"TotalCount": len(out), "KeyPairSet": [self.key_view(k) for k in page(out, p)]}

    def DeleteKeyPairs(self, region, p):
        ids = str_list(p, "KeyIds")
        if not ids:
            raise ApiError("MissingParameter", "The parameter `KeyIds` is missing.")
        for kid in ids:
            k = self.st.res["key_pair"].get(kid)
            if k is None:
                raise ApiError("InvalidKeyPairId.NotFound", f"The key pair `{kid}` does not exist.")
            if k["AssociatedInstanceIds"]:
                raise ApiError("InvalidParameterValue.KeyPairNotSupported",
                               f"The key pair `{kid}` is bound to instance(s) {k['AssociatedInstanceIds']}.")
        for kid in ids:
            del self.st.res["key_pair"][kid]
        return {}

    def _key_op(self, region, p, attach):
        iids = str_list(p, "InstanceIds")
        kids = str_list(p, "KeyIds")
        if not iids or not kids:
            raise ApiError("MissingParameter", "`InstanceIds` and `KeyIds` are required.")
        insts = [self.get("instance", i, region, "InvalidInstanceId.NotFound", "instance") for i in iids]
        keys = []
        for kid in kids:
            k = self.st.res["key_pair"].get(kid)
            if k is None:
                raise ApiError("InvalidKeyPairId.NotFound", f"The key pair `{kid}` does not exist.")
            keys.append(k)
        force = as_bool(p.get("ForceStop"))
        op = "AssociateInstancesKeyPairs" if attach else "DisassociateInstancesKeyPairs"
        for i in insts:
            self.busy(i)
            if i["InstanceState"] not in ("RUNNING", "STOPPED"):
                raise ApiError(f"UnsupportedOperation.InstanceState{i['InstanceState'].capitalize()}",
                               f"The instance `{i['InstanceId']}` is {i['InstanceState']}.")
            if i["InstanceState"] == "RUNNING" and not force:
                raise ApiError("UnsupportedOperation.InstanceStateRunning",
                               f"The instance `{i['InstanceId']}` is RUNNING: stop it or set `ForceStop`.")
        for i in insts:
            def apply(x, keys=keys):
                for k in keys:
                    if attach:
                        if k["KeyId"] not in x["KeyIds"]:
                            x["KeyIds"].append(k["KeyId"])
                        if x["InstanceId"] not in k["AssociatedInstanceIds"]:
                            k["AssociatedInstanceIds"].append(x["InstanceId"])
                    else:
                        if k["KeyId"] in x["KeyIds"]:
                            x["KeyIds"].remove(k["KeyId"])
                        if x["InstanceId"] in k["AssociatedInstanceIds"]:
                            k["AssociatedInstanceIds"].remove(x["InstanceId"])
            self.operate(i, op, p["_rid"])
            if i["InstanceState"] == "RUNNING":
                # Stopped, changed, started again.
                i["InstanceState"] = "STOPPING"
                t = self.st.later(i, "instance_stop", {"InstanceState": "STOPPED"})
                t = self.st.later(i, "key_detach", lambda x: (apply(x), x.update(InstanceState="STARTING")), t)
                self.st.later(i, "instance_start", self.done(i, "RUNNING"), t)
            else:
                self.st.later(i, "key_detach", lambda x: (apply(x), self.done(x)(x)))
        return {}

    def AssociateInstancesKeyPairs(self, region, p):
        return self._key_op(region, p, True)

    def DisassociateInstancesKeyPairs(self, region, p):
        return self._key_op(region, p, False)

    # VPC ------------------------------------------------------------------
    def _cidr(self, c, name):
        try:
            return ipaddress.ip_network(c)
        except ValueError:
            raise ApiError("InvalidParameterValue.Malformed", f"The {name} `{c}` is not a valid CIDR block.")

    def CreateVpc(self, region, p):
        name = p.get("VpcName") or ""
        if not name or len(name) > 60:
            raise ApiError("InvalidParameterValue.Length", "`VpcName` must be 1 to 60 characters.")
        cidr = self._cidr(p.get("CidrBlock") or "", "CidrBlock")
        if not any(cidr.subnet_of(ipaddress.ip_network(n)) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")) \
                or cidr.prefixlen < 12 or cidr.prefixlen > 28:
            raise ApiError("InvalidParameterValue.Range", f"The CIDR block `{cidr}` is not allowed for a VPC.")
        vid = rand_id("vpc")
        v = {"VpcId": vid, "VpcName": name, "Region": region, "CidrBlock": str(cidr), "IsDefault": False,
             "EnableMulticast": as_bool(p.get("EnableMulticast")), "CreatedTime": iso(), "DnsServerSet": [],
             "DomainName": "", "DhcpOptionsId": "", "EnableDhcp": True, "Ipv6CidrBlock": "",
             "Tags": tags_of(p.get("Tags")), "_next": []}
        self.st.res["vpc"][vid] = v
        return {"Vpc": self.vpc_view(v)}

    def vpc_view(self, v):
        out = {k: x for k, x in v.items() if not k.startswith("_") and k not in ("Region", "Tags")}
        out["TagSet"] = tag_list(v["Tags"])
        return out

    def DescribeVpcs(self, region, p):
        ids = str_list(p, "VpcIds")
        flt = filters_of(p)
        out = []
        for v in self.st.res["vpc"].values():
            if v["Region"] != region or (ids and v["VpcId"] not in ids):
                continue
            if "vpc-name" in flt and v["VpcName"] not in flt["vpc-name"]:
                continue
            if "vpc-id" in flt and v["VpcId"] not in flt["vpc-id"]:
                continue
            if not tag_filter_ok(flt, v["Tags"]):
                continue
            out.append(v)
        for vid in ids:
            if not any(v["VpcId"] == vid for v in out) and vid not in self.st.res["vpc"]:
                raise ApiError("ResourceNotFound", f"The VPC `{vid}` does not exist.")
        return {"TotalCount": len(out), "VpcSet": [self.vpc_view(v) for v in page(out, p)]}

    def DeleteVpc(self, region, p):
        v = self.get("vpc", p.get("VpcId", ""), region, "ResourceNotFound", "VPC")
        for kind in ("subnet", "instance"):
            for r in self.st.res[kind].values():
                if r.get("VpcId") == v["VpcId"]:
                    raise ApiError("ResourceInUse", f"The VPC `{v['VpcId']}` still holds a {kind} `{r.get('SubnetId') or r.get('InstanceId')}`.")
        del self.st.res["vpc"][v["VpcId"]]
        return {}

    def CreateSubnet(self, region, p):
        v = self.get("vpc", p.get("VpcId", ""), region, "ResourceNotFound", "VPC")
        name = p.get("SubnetName") or ""
        if not name or len(name) > 60:
            raise ApiError("InvalidParameterValue.Length", "`SubnetName` must be 1 to 60 characters.")
        cidr = self._cidr(p.get("CidrBlock") or "", "CidrBlock")
        if not cidr.subnet_of(ipaddress.ip_network(v["CidrBlock"])):
            raise ApiError("InvalidParameterValue.SubnetRange",
                           f"The subnet CIDR block `{cidr}` is not within the VPC's `{v['CidrBlock']}`.")
        for s in self.st.res["subnet"].values():
            if s["VpcId"] == v["VpcId"] and cidr.overlaps(ipaddress.ip_network(s["CidrBlock"])):
                raise ApiError("InvalidParameterValue.SubnetConflict",
                               f"The subnet CIDR block `{cidr}` overlaps subnet `{s['SubnetId']}`.")
        zone = self.zone(region, p.get("Zone") or "")
        sid = rand_id("subnet")
        s = {"SubnetId": sid, "SubnetName": name, "VpcId": v["VpcId"], "Region": region, "CidrBlock": str(cidr),
             "Zone": zone, "IsDefault": False, "EnableBroadcast": False, "RouteTableId": "",
             "AvailableIpAddressCount": cidr.num_addresses - 5, "TotalIpAddressCount": cidr.num_addresses,
             "CreatedTime": iso(), "Ipv6CidrBlock": "", "NetworkAclId": "", "IsRemoteVpcSnat": False,
             "Tags": tags_of(p.get("Tags")), "_next": []}
        self.st.res["subnet"][sid] = s
        return {"Subnet": self.vpc_view(s)}

    def DescribeSubnets(self, region, p):
        ids = str_list(p, "SubnetIds")
        flt = filters_of(p)
        out = []
        for s in self.st.res["subnet"].values():
            if s["Region"] != region or (ids and s["SubnetId"] not in ids):
                continue
            if any(n in flt and s[k] not in flt[n] for n, k in
                   (("vpc-id", "VpcId"), ("subnet-id", "SubnetId"), ("subnet-name", "SubnetName"), ("zone", "Zone"))):
                continue
            if not tag_filter_ok(flt, s["Tags"]):
                continue
            out.append(s)
        for sid in ids:
            if sid not in self.st.res["subnet"]:
                raise ApiError("ResourceNotFound", f"The subnet `{sid}` does not exist.")
        return {"TotalCount": len(out), "SubnetSet": [self.vpc_view(s) for s in page(out, p)]}

    def DeleteSubnet(self, region, p):
        s = self.get("subnet", p.get("SubnetId", ""), region, "ResourceNotFound", "subnet")
        for i in self.st.res["instance"].values():
            if i["SubnetId"] == s["SubnetId"]:
                raise ApiError("ResourceInUse", f"The subnet `{s['SubnetId']}` is used by instance `{i['InstanceId']}`.")
        del self.st.res["subnet"][s["SubnetId"]]
        return {}

    def CreateSecurityGroup(self, region, p):
        name = p.get("GroupName") or ""
        if not name or len(name) > 60:
            raise ApiError("InvalidParameterValue.Length", "`GroupName` must be 1 to 60 characters.")
        gid = rand_id("sg")
        g = {"SecurityGroupId": gid, "SecurityGroupName": name, "Region": region,
             "SecurityGroupDesc": p.get("GroupDescription", ""), "ProjectId": str(p.get("ProjectId") or "0"),
             "IsDefault": False, "CreatedTime": iso(), "UpdateTime": iso(), "Tags": tags_of(p.get("Tags")),
             "Ingress": [], "Egress": [], "_next": []}
        self.st.res["security_group"][gid] = g
        return {"SecurityGroup": self.sg_view(g)}

    def sg_view(self, g):
        out = {k: x for k, x in g.items() if not k.startswith("_") and k not in ("Region", "Tags", "Ingress", "Egress")}
        out["TagSet"] = tag_list(g["Tags"])
        return out

    def CreateSecurityGroupPolicies(self, region, p):
        g = self.get("security_group", p.get("SecurityGroupId", ""), region,
                     "ResourceNotFound", "security group")
        ps = p.get("SecurityGroupPolicySet") or {}
        ing, eg = ps.get("Ingress") or [], ps.get("Egress") or []
        if bool(ing) == bool(eg):
            raise ApiError("InvalidParameter", "Give either `Ingress` or `Egress` policies, one direction a call.")
        for rule in ing + eg:
            if (rule.get("Action") or "").upper() not in ("ACCEPT", "DROP"):
                raise ApiError("InvalidParameterValue", f"The policy action `{rule.get('Action')}` is not valid.")
        g["Ingress"] += ing
        g["Egress"] += eg
        return {}

    def DescribeSecurityGroupPolicies(self, region, p):
        g = self.get("security_group", p.get("SecurityGroupId", ""), region, "ResourceNotFound", "security group")
        return {"SecurityGroupPolicySet": {"Version": "1", "Ingress": g["Ingress"], "Egress": g["Egress"]}}

    def DescribeSecurityGroups(self, region, p):
        ids = str_list(p, "SecurityGroupIds")
        flt = filters_of(p)
        for gid in ids:
            g = self.st.res["security_group"].get(gid)
            if g is None or g["Region"] != region:
                raise ApiError("ResourceNotFound", f"The security group `{gid}` does not exist.")
        out = []
        for g in self.st.res["security_group"].values():
            if g["Region"] != region or (ids and g["SecurityGroupId"] not in ids):
                continue
            if "security-group-name" in flt and g["SecurityGroupName"] not in flt["security-group-name"]:
                continue
            if "security-group-id" in flt and g["SecurityGroupId"] not in flt["security-group-id"]:
                continue
            if not tag_filter_ok(flt, g["Tags"]):
                continue
            out.append(g)
        return {"TotalCount": len(out), "SecurityGroupSet": [self.sg_view(g) for g in page(out, p)]}

    def DeleteSecurityGroup(self, region, p):
        g = self.get("security_group", p.get("SecurityGroupId", ""), region, "ResourceNotFound", "security group")
        for i in self.st.res["instance"].values():
            if g["SecurityGroupId"] in i["SecurityGroupIds"]:
                raise ApiError("ResourceInUse", f"The security group `{g['SecurityGroupId']}` is used by instance `{i['InstanceId']}`.")
        del self.st.res["security_group"][g["SecurityGroupId"]]
        return {}

    # Instances ------------------------------------------------------------
    def RunInstances(self, region, p):
        token = p.get("ClientToken")
        if token and (region, token) in self.st.tokens:
            return {"InstanceIdSet": self.st.tokens[(region, token)]}
        itype = p.get("InstanceType") or "S3.SMALL1"
        if itype not in INSTANCE_TYPES:
            raise ApiError("InvalidInstanceType.Malformed", f"The instance type `{itype}` is not valid.")
        img = self.image_by_id(region, p.get("ImageId") or "")
        if img["ImageState"] != "NORMAL":
            raise ApiError("InvalidImageId.IncorrectState", f"The image `{img['ImageId']}` is {img['ImageState']}.")
        placement = p.get("Placement") or {}
        zone = self.zone(region, placement.get("Zone") or "")
        vpc = p.get("VirtualPrivateCloud") or {}
        if not vpc.get("VpcId") or not vpc.get("SubnetId"):
            raise ApiError("MissingParameter", "`VirtualPrivateCloud.VpcId` and `.SubnetId` are required.")
        v = self.get("vpc", vpc["VpcId"], region, "InvalidParameterValue.VpcIdNotExist", "VPC")
        s = self.get("subnet", vpc["SubnetId"], region, "InvalidParameterValue.SubnetNotExist", "subnet")
        if s["VpcId"] != v["VpcId"]:
            raise ApiError("InvalidParameterValue.InvalidVpcIdSubnetIdNotFound",
                           f"The subnet `{s['SubnetId']}` is not in VPC `{v['VpcId']}`.")
        if s["Zone"] != zone:
            raise ApiError("InvalidParameterValue.SubnetNotExist", f"The subnet `{s['SubnetId']}` is not in zone `{zone}`.")
        sgs = str_list(p, "SecurityGroupIds")
        for g in sgs:
            self.get("security_group", g, region, "InvalidSecurityGroupId.NotFound", "security group")
        login = p.get("LoginSettings") or {}
        keys = [str(k) for k in login.get("KeyIds") or []]
        for kid in keys:
            if kid not in self.st.res["key_pair"]:
                raise ApiError("InvalidKeyPairId.NotFound", f"The key pair `{kid}` does not exist.")
        sysdisk = p.get("SystemDisk") or {}
        dtype = sysdisk.get("DiskType") or "CLOUD_BASIC"
        if dtype not in DISK_TYPES:
            raise ApiError("InvalidParameterValue", f"The disk type `{dtype}` is not valid.")
        dsize = as_int(sysdisk.get("DiskSize"), "SystemDisk.DiskSize", 50)
        if dsize < img["ImageSize"]:
            raise ApiError("InvalidParameterValue.Range", f"The system disk ({dsize} GB) is smaller than the image ({img['ImageSize']} GB).")
        data_disks = p.get("DataDisks") or []
        net = p.get("InternetAccessible") or {}
        bandwidth = as_int(net.get("InternetMaxBandwidthOut"), "InternetMaxBandwidthOut", 0)
        public = net.get("PublicIpAssigned")
        public = bandwidth > 0 if public is None else as_bool(public)
        count = as_int(p.get("InstanceCount"), "InstanceCount", 1)
        cpu, mem = INSTANCE_TYPES[itype]
        subnet_net = ipaddress.ip_network(s["CidrBlock"])
        ids = []
        tags = spec_tags(p, "instance")
        for _ in range(count):
            iid = rand_id("ins")
            private = self.cfg.private_ip or str(subnet_net.network_address + self.st.next_ip())
            i = {"InstanceId": iid, "Region": region, "InstanceType": itype, "CPU": cpu, "Memory": mem,
                 "InstanceName": p.get("InstanceName") or "未命名", "HostName": p.get("HostName") or "",
                 "InstanceChargeType": p.get("InstanceChargeType") or "POSTPAID_BY_HOUR",
                 "Zone": zone, "ImageId": img["ImageId"], "OsName": img["OsName"],
                 "SystemDisk": {"DiskType": dtype, "DiskSize": dsize, "DiskId": rand_id("disk")},
                 "DataDisks": [{"DiskType": d.get("DiskType", "CLOUD_BASIC"), "DiskSize": as_int(d.get("DiskSize"), "DiskSize", 0),
                                "DiskId": rand_id("disk"), "SnapshotId": d.get("SnapshotId", "")} for d in data_disks],
                 "VpcId": v["VpcId"], "SubnetId": s["SubnetId"], "PrivateIp": private,
                 "PublicIp": self.cfg.public_ip if public else None,
                 "InternetChargeType": net.get("InternetChargeType") or "TRAFFIC_POSTPAID_BY_HOUR",
                 "InternetMaxBandwidthOut": bandwidth, "SecurityGroupIds": sgs, "KeyIds": list(keys),
                 "UserData": p.get("UserData") or "", "Tags": tags, "CreatedTime": iso(),
                 "InstanceState": "PENDING", "LatestOperation": "RunInstances", "LatestOperationState": "OPERATING",
                 "LatestOperationRequestId": p["_rid"], "_next": []}
            self.st.res["instance"][iid] = i
            for kid in keys:
                self.st.res["key_pair"][kid]["AssociatedInstanceIds"].append(iid)
            self.st.later(i, "instance_create", self.done(i, "RUNNING"))
            ids.append(iid)
        if token:
            self.st.tokens[(region, token)] = ids
        return {"InstanceIdSet": ids}

    def instance_view(self, i):
        return {
            "Placement": {"Zone": i["Zone"], "ProjectId": 0},
            "InstanceId": i["InstanceId"], "InstanceType": i["InstanceType"], "CPU": i["CPU"], "Memory": i["Memory"],
            "RestrictState": "NORMAL", "InstanceName": i["InstanceName"], "InstanceChargeType": i["InstanceChargeType"],
            "SystemDisk": i["SystemDisk"], "DataDisks": i["DataDisks"] or None,
            "PrivateIpAddresses": [i["PrivateIp"]],
            "PublicIpAddresses": [i["PublicIp"]] if i["PublicIp"] and i["InstanceState"] != "PENDING" else None,
            "InternetAccessible": {"InternetChargeType": i["InternetChargeType"],
                                   "InternetMaxBandwidthOut": i["InternetMaxBandwidthOut"],
                                   "PublicIpAssigned": bool(i["PublicIp"])},
            "VirtualPrivateCloud": {"VpcId": i["VpcId"], "SubnetId": i["SubnetId"], "AsVpcGateway": False},
            "ImageId": i["ImageId"], "RenewFlag": None, "CreatedTime": i["CreatedTime"], "ExpiredTime": None,
            "OsName": i["OsName"], "SecurityGroupIds": i["SecurityGroupIds"],
            "LoginSettings": {"KeyIds": list(i["KeyIds"]) or None},
            "InstanceState": i["InstanceState"], "Tags": tag_list(i["Tags"]),
            "StopChargingMode": "NOT_APPLICABLE", "Uuid": i["InstanceId"].replace("ins-", "") + "-uuid",
            "LatestOperation": i["LatestOperation"], "LatestOperationState": i["LatestOperationState"],
            "LatestOperationRequestId": i["LatestOperationRequestId"],
        }

    def DescribeInstances(self, region, p):
        ids = str_list(p, "InstanceIds")
        flt = filters_of(p)
        if ids and flt:
            raise ApiError("InvalidParameter", "`InstanceIds` and `Filters` cannot be given together.")
        out = []
        for i in self.st.res["instance"].values():
            if i["Region"] != region or (ids and i["InstanceId"] not in ids):
                continue
            if any(n in flt and i[k] not in flt[n] for n, k in
                   (("instance-id", "InstanceId"), ("instance-name", "InstanceName"), ("zone", "Zone"),
                    ("vpc-id", "VpcId"), ("subnet-id", "SubnetId"), ("instance-state", "InstanceState"))):
                continue
            if not tag_filter_ok(flt, i["Tags"]):
                continue
            out.append(i)
        return {"TotalCount": len(out), "InstanceSet": [self.instance_view(i) for i in page(out, p)]}

    def _instances(self, region, p):
        ids = str_list(p, "InstanceIds")
        if not ids:
            raise ApiError("MissingParameter", "The parameter `InstanceIds` is missing.")
        return [self.get("instance", i, region, "InvalidInstanceId.NotFound", "instance") for i in ids]

    def StopInstances(self, region, p):
        insts = self._instances(region, p)
        for i in insts:
            self.busy(i)
            if i["InstanceState"] != "RUNNING":
                raise ApiError(f"UnsupportedOperation.InstanceState{i['InstanceState'].capitalize()}",
                               f"The instance `{i['InstanceId']}` is {i['InstanceState']}, not RUNNING.")
        for i in insts:
            self.operate(i, "StopInstances", p["_rid"])
            i["InstanceState"] = "STOPPING"
            self.st.later(i, "instance_stop", self.done(i, "STOPPED"))
        return {}

    def StartInstances(self, region, p):
        insts = self._instances(region, p)
        for i in insts:
            self.busy(i)
            if i["InstanceState"] != "STOPPED":
                raise ApiError(f"UnsupportedOperation.InstanceState{i['InstanceState'].capitalize()}",
                               f"The instance `{i['InstanceId']}` is {i['InstanceState']}, not STOPPED.")
        for i in insts:
            self.operate(i, "StartInstances", p["_rid"])
            i["InstanceState"] = "STARTING"
            self.st.later(i, "instance_start", self.done(i, "RUNNING"))
        return {}

    def TerminateInstances(self, region, p):
        insts = self._instances(region, p)
        for i in insts:
            self.busy(i)
            if i["InstanceState"] in ("TERMINATING", "SHUTDOWN"):
                raise ApiError("UnsupportedOperation.InstanceStateTerminating",
                               f"The instance `{i['InstanceId']}` is already terminating.")
        for i in insts:
            self.operate(i, "TerminateInstances", p["_rid"])
            i["InstanceState"] = "TERMINATING"

            def gone(x):
                x["_gone"] = True
                for k in self.st.res["key_pair"].values():
                    if x["InstanceId"] in k["AssociatedInstanceIds"]:
                        k["AssociatedInstanceIds"].remove(x["InstanceId"])
            self.st.later(i, "instance_terminate", gone)
        return {}

    # Images ---------------------------------------------------------------
    def image_view(self, im):
        return {
            "ImageId": im["ImageId"], "OsName": im["OsName"], "ImageType": im["ImageType"],
            "CreatedTime": im["CreatedTime"], "ImageName": im["ImageName"], "ImageDescription": im["ImageDescription"],
            "ImageSize": im["ImageSize"], "Architecture": im["Architecture"], "ImageState": im["ImageState"],
            "Platform": im["Platform"], "ImageCreator": im["ImageCreator"], "ImageSource": im["ImageSource"],
            "SyncPercent": im["SyncPercent"], "IsSupportCloudinit": im["IsSupportCloudinit"],
            "SnapshotSet": im["SnapshotSet"], "Tags": tag_list(im["Tags"]),
        }

    def DescribeImages(self, region, p):
        ids = str_list(p, "ImageIds")
        flt = filters_of(p)
        if ids and flt:
            raise ApiError("InvalidParameterValue.InvalidParameterCoexistImageIdsFilters",
                           "`ImageIds` and `Filters` cannot be given together.")
        out = []
        for im in self.st.res["image"].values():
            if im["Region"] != region or (ids and im["ImageId"] not in ids):
                continue
            if "image-id" in flt and im["ImageId"] not in flt["image-id"]:
                continue
            if "image-name" in flt and im["ImageName"] not in flt["image-name"]:
                continue
            if "image-type" in flt and im["ImageType"] not in flt["image-type"]:
                continue
            if "platform" in flt and im["Platform"] not in flt["platform"]:
                continue
            if "image-state" in flt and im["ImageState"] not in flt["image-state"]:
                continue
            if not tag_filter_ok(flt, im["Tags"]):
                continue
            out.append(im)
        return {"TotalCount": len(out), "ImageSet": [self.image_view(i) for i in page(out, p)]}

    def CreateImage(self, region, p):
        name = p.get("ImageName") or ""
        if not name or len(name) > 60:
            raise ApiError("InvalidParameterValue.TooLong" if name else "MissingParameter",
                           "`ImageName` must be 1 to 60 characters.")
        i = self.get("instance", p.get("InstanceId", ""), region, "InvalidInstanceId.NotFound", "instance")
        if any(im["ImageName"] == name for im in self.owned_images(region)):
            raise ApiError("InvalidImageName.Duplicate", f"The image name `{name}` is already used in `{region}`.")
        self.busy(i)
        if i["InstanceState"] not in ("RUNNING", "STOPPED"):
            raise ApiError(f"UnsupportedOperation.InstanceState{i['InstanceState'].capitalize()}",
                           f"The instance `{i['InstanceId']}` is {i['InstanceState']}.")
        iid = rand_id("img")
        im = {"ImageId": iid, "Region": region, "ImageName": name, "OsName": i["OsName"],
              "ImageType": "PRIVATE_IMAGE", "CreatedTime": iso(), "ImageDescription": p.get("ImageDescription", ""),
              "ImageSize": i["SystemDisk"]["DiskSize"], "Architecture": "x86_64", "ImageState": "CREATING",
              "Platform": self.image_platform(region, i["ImageId"]), "ImageCreator": OWNER_UIN,
              "ImageSource": "CREATE_IMAGE", "SyncPercent": 0, "IsSupportCloudinit": True,
              "SnapshotSet": [{"SnapshotId": rand_id("snap"), "DiskUsage": "SYSTEM_DISK", "DiskSize": i["SystemDisk"]["DiskSize"]}],
              "Tags": spec_tags(p, "image"), "shared": [], "_next": []}
        self.st.res["image"][iid] = im
        self.operate(i, "CreateImage", p["_rid"])
        self.st.later(im, "image_create", {"ImageState": "NORMAL", "SyncPercent": 100})
        self.st.later(i, "image_create", self.done(i))
        return {"ImageId": iid}

    def image_platform(self, region, iid):
        try:
            return self.image_by_id(region, iid)["Platform"]
        except ApiError:
            return "Other"

    def DeleteImages(self, region, p):
        ids = str_list(p, "ImageIds")
        if not ids:
            raise ApiError("MissingParameter", "The parameter `ImageIds` is missing.")
        ims = []
        for iid in ids:
            im = self.st.res["image"].get(iid)
            if im is None or im["Region"] != region or im.get("_public"):
                raise ApiError("InvalidImageId.NotFound", f"The image `{iid}` does not exist.")
            if im["ImageState"] not in ("NORMAL", "CREATEFAILED"):
                raise ApiError("InvalidImageId.IncorrectState", f"The image `{iid}` is {im['ImageState']}.")
            if im["shared"]:
                raise ApiError("InvalidImageId.InShared", f"The image `{iid}` is shared with {im['shared']}.")
            ims.append(im)
        for im in ims:
            del self.st.res["image"][im["ImageId"]]
        return {}

    def SyncImages(self, region, p):
        ids = str_list(p, "ImageIds")
        dests = str_list(p, "DestinationRegions")
        if not ids or not dests:
            raise ApiError("MissingParameter", "`ImageIds` and `DestinationRegions` are required.")
        srcs = []
        for iid in ids:
            im = self.st.res["image"].get(iid)
            if im is None or im["Region"] != region or im.get("_public"):
                raise ApiError("InvalidImageId.NotFound", f"The image `{iid}` does not exist.")
            if im["ImageState"] != "NORMAL":
                raise ApiError("InvalidImageId.IncorrectState", f"The image `{iid}` is {im['ImageState']}.")
            srcs.append(im)
        for d in dests:
            if d not in REGIONS:
                raise ApiError("InvalidRegion.NotFound", f"The region `{d}` does not exist.")
            if d == region:
                raise ApiError("InvalidParameterValue.InvalidRegion", f"`{d}` is the image's own region.")
            for im in srcs:
                if any(o["ImageName"] == im["ImageName"] for o in self.owned_images(d)):
                    raise ApiError("InvalidImageName.Duplicate",
                                   f"The image name `{im['ImageName']}` is already used in `{d}`.")
        out = []
        for im in srcs:
            for d in dests:
                nid = rand_id("img")
                copy = dict(im, ImageId=nid, Region=d, ImageState="SYNCING", SyncPercent=0, CreatedTime=iso(),
                            ImageSource="SYNC_IMAGE", shared=[], Tags=dict(im["Tags"]), _next=[],
                            SnapshotSet=[dict(s, SnapshotId=rand_id("snap")) for s in im["SnapshotSet"]])
                self.st.res["image"][nid] = copy
                self.st.later(copy, "image_sync", {"ImageState": "NORMAL", "SyncPercent": 100})
                out.append({"ImageId": im["ImageId"], "Region": d, "SyncImageId": nid})
        return {"ImageSet": out}

    def ModifyImageSharePermission(self, region, p):
        im = self.st.res["image"].get(p.get("ImageId", ""))
        if im is None or im["Region"] != region or im.get("_public"):
            raise ApiError("InvalidImageId.NotFound", f"The image `{p.get('ImageId')}` does not exist.")
        if im["ImageState"] != "NORMAL":
            raise ApiError("InvalidImageId.IncorrectState", f"The image `{im['ImageId']}` is {im['ImageState']}.")
        perm = p.get("Permission") or ""
        accounts = str_list(p, "AccountIds")
        if perm not in ("SHARE", "CANCEL"):
            raise ApiError("InvalidParameterValue", f"The permission `{perm}` is not SHARE or CANCEL.")
        for a in accounts:
            if not a.isdigit():
                raise ApiError("InvalidAccountId.NotFound", f"The account `{a}` does not exist.")
            if perm == "SHARE" and a not in im["shared"]:
                im["shared"].append(a)
            if perm == "CANCEL" and a in im["shared"]:
                im["shared"].remove(a)
        im["ImageType"] = "PRIVATE_IMAGE"
        return {}

    def DescribeImageSharePermission(self, region, p):
        im = self.image_by_id(region, p.get("ImageId", ""))
        return {"SharePermissionSet": [{"CreatedTime": im["CreatedTime"], "AccountId": a} for a in im["shared"]]}

    # Tags -----------------------------------------------------------------
    def _tag_targets(self, p):
        """The resources of `ResourceList` (`qcs::cvm:<region>:uin/<uin>:<type>/<id>`)."""
        out = []
        names = str_list(p, "ResourceList")
        if not names:
            raise ApiError("MissingParameter", "The parameter `ResourceList` is missing.")
        for name in names:
            parts = name.split(":")
            if len(parts) != 6 or parts[0] != "qcs" or "/" not in parts[5]:
                raise ApiError("InvalidParameterValue.ResourceDescriptionError",
                               f"The resource description `{name}` is malformed.")
            region, (rtype, rid) = parts[3], parts[5].split("/", 1)
            kind = {"instance": "instance", "image": "image", "keypair": "key_pair", "vpc": "vpc",
                    "subnet": "subnet", "sg": "security_group"}.get(rtype)
            r = self.st.res.get(kind, {}).get(rid) if kind else None
            if r is None or r.get("_public") or (kind != "key_pair" and r["Region"] != region):
                raise ApiError("ResourceNotFound", f"The resource `{name}` does not exist.")
            out.append(r)
        return out

    def TagResources(self, region, p):
        tags = {t.get("TagKey", ""): t.get("TagValue", "") for t in p.get("Tags") or []}
        if not tags or any(not k for k in tags):
            raise ApiError("InvalidParameterValue.TagKeyEmpty", "Every tag needs a `TagKey`.")
        for r in self._tag_targets(p):
            r["Tags"].update(tags)
        return {"FailedResources": []}

    def UnTagResources(self, region, p):
        keys = str_list(p, "TagKeys")
        for r in self._tag_targets(p):
            for k in keys:
                r["Tags"].pop(k, None)
        return {"FailedResources": []}


CVM_ACTIONS = {
    "DescribeZones", "DescribeRegions", "DescribeImages", "CreateImage", "DeleteImages", "SyncImages",
    "ModifyImageSharePermission", "DescribeImageSharePermission", "RunInstances", "DescribeInstances",
    "StopInstances", "StartInstances", "TerminateInstances", "CreateKeyPair", "ImportKeyPair",
    "DescribeKeyPairs", "DeleteKeyPairs", "AssociateInstancesKeyPairs", "DisassociateInstancesKeyPairs",
}
VPC_ACTIONS = {
    "CreateVpc", "DescribeVpcs", "DeleteVpc", "CreateSubnet", "DescribeSubnets", "DeleteSubnet",
    "CreateSecurityGroup", "CreateSecurityGroupPolicies", "DescribeSecurityGroupPolicies",
    "DescribeSecurityGroups", "DeleteSecurityGroup",
}
TAG_ACTIONS = {"TagResources", "UnTagResources"}
SERVICES = {"cvm": (CVM_VERSION, CVM_ACTIONS), "vpc": (VPC_VERSION, VPC_ACTIONS), "tag": (TAG_VERSION, TAG_ACTIONS)}
# Actions that need no region.
GLOBAL_ACTIONS = {"DescribeRegions", "TagResources", "UnTagResources"}


# ---------------------------------------------------------------- HTTP


class Handler(fake_server.Handler):
    disable_nagle_algorithm = True
    server_version = "tencentcloud-fake"
    log_name = "tencentcloud-fake"
    keys_name = "secret_ids"
    delays = (DELAYS, REGIONS)
    fault_defaults = {}

    do_GET = do_POST = lambda self: self._dispatch()

    def _dispatch(self):
        try:
            url = urlsplit(self.path)
            if url.path.startswith("/_fake/"):
                return self._admin(url)
            self._api(url, self._body())
        except BrokenPipeError:
            pass

    # Admin ------------------------------------------------------------------
    def resources_view(self):
        return resources_view(self.st)

    def authorized_keys(self, everything):
        # The key pairs bound to running instances.
        st = self.st
        return [(k["PublicKey"], k["KeyName"]) for k in st.res["key_pair"].values()
                if everything or any(k["KeyId"] in i["KeyIds"] and i["InstanceState"] == "RUNNING"
                                     for i in st.res["instance"].values())]

    # API --------------------------------------------------------------------
    def _record(self, svc, action, region, code, params, resp, sig):
        ids = {}
        for k in ID_KEYS:
            if isinstance(params.get(k), str) and params[k]:
                ids[k] = params[k]
        for k in ID_LIST_KEYS:
            if isinstance(params.get(k), list) and params[k]:
                ids[k] = ",".join(str(x) for x in params[k])
        if isinstance(resp, dict):
            for k in ("InstanceIdSet",):
                if resp.get(k):
                    ids["InstanceIds"] = ",".join(resp[k])
            for k, inner in (("Vpc", "VpcId"), ("Subnet", "SubnetId"), ("SecurityGroup", "SecurityGroupId"),
                             ("KeyPair", "KeyId")):
                if isinstance(resp.get(k), dict):
                    ids.setdefault(inner, resp[k][inner])
            if resp.get("ImageId"):
                ids.setdefault("ImageId", resp["ImageId"])
            if resp.get("KeyId"):
                ids.setdefault("KeyId", resp["KeyId"])
        shown = {k: ("***" if k in SECRET_PARAMS else v) for k, v in params.items() if not k.startswith("_")}
        if isinstance(shown.get("LoginSettings"), dict) and shown["LoginSettings"].get("Password"):
            shown["LoginSettings"] = dict(shown["LoginSettings"], Password="***")
        with self.st.lock:
            self.st.seq += 1
            self.st.log.append({
                "seq": self.st.seq, "time": iso(), "service": svc, "action": action, "region": region,
                "status": 200, "code": code, "ids": ids, "signature": sig, "host": self._host(),
                "scheme": self._scheme(), "params": shown,
            })

    def _reply(self, rid, svc, action, region, params, sig, out=None, err=None):
        self._record(svc, action, region, err.code if err else None, params, out, sig)
        if err:
            body = {"Response": {"Error": {"Code": err.code, "Message": err.message}, "RequestId": rid}}
        else:
            body = {"Response": dict(out or {}, RequestId=rid)}
        self._send(200, json.dumps(body, ensure_ascii=False), headers={"X-TC-RequestId": rid})

    def _service(self):
        h = self._host()
        if h.endswith(HOST_SUFFIX):
            first = h.split(".")[0]
            if first in SERVICES:
                return first
        return None

    def _api(self, url, body):
        rid = str(uuid.uuid4())
        headers = {k.lower(): v for k, v in self.headers.items()}
        action = headers.get("x-tc-action", "")
        version = headers.get("x-tc-version", "")
        region = headers.get("x-tc-region", "")
        auth = headers.get("authorization", "")
        svc = self._service()
        params = {}
        sig = "tc3" if auth.startswith("TC3-") else "none"
        try:
            if self.command == "GET":
                params = unflatten(parse_qsl(url.query, keep_blank_values=True))
            elif body:
                try:
                    params = json.loads(body)
                except ValueError:
                    raise ApiError("InvalidParameter", "The request body is not valid JSON.")
                if not isinstance(params, dict):
                    raise ApiError("InvalidParameter", "The request body must be a JSON object.")
            if svc is None:
                # Plain http://127.0.0.1:port: the credential scope names the service.
                scope = auth.split("Credential=", 1)[-1].split(",")[0].split("/")
                svc = scope[2] if len(scope) >= 3 and scope[2] in SERVICES else "cvm"
            self._check_tc3(url, body, headers, auth, svc)
            ver, actions = SERVICES[svc]
            if not action:
                raise ApiError("MissingParameter", "The header `X-TC-Action` is missing.")
            if action not in actions:
                raise ApiError("InvalidAction", f"The action `{action}` is not supported by `{svc}`.")
            if version != ver:
                raise ApiError("InvalidParameterValue", f"The version `{version}` of `{svc}` is not supported.")
            if action not in GLOBAL_ACTIONS:
                if not region:
                    raise ApiError("MissingParameter", "The header `X-TC-Region` is missing.")
                if region not in REGIONS:
                    raise ApiError("UnsupportedRegion", f"The region `{region}` is not supported by `{svc}`.")
            params["_rid"] = rid
            with self.st.lock:
                f = fake_server.take_fault(self.st, action)
                if f:
                    raise ApiError(f["code"], f.get("message") or f"{f['code']} (injected by the fake's fault hook)")
                self.st.settle()
                out = getattr(self.api, action)(region, params)
        except ApiError as e:
            return self._reply(rid, svc or "", action, region, params, sig, err=e)
        self._reply(rid, svc, action, region, params, sig, out=out)

    def _check_tc3(self, url, body, headers, auth, svc):
        algo, _, rest = auth.partition(" ")
        if not auth:
            raise ApiError("AuthFailure.SignatureFailure", "The request has no `Authorization` header.")
        if algo != "TC3-HMAC-SHA256":
            raise ApiError("AuthFailure.SignatureFailure", f"The signature method `{algo}` is not supported.")
        fields = dict(x.strip().split("=", 1) for x in rest.split(",") if "=" in x)
        cred = fields.get("Credential", "").split("/")
        if len(cred) != 4 or cred[3] != "tc3_request":
            raise ApiError("AuthFailure.SignatureFailure", "The `Credential` of the signature is malformed.")
        secret_id, date, service = cred[0], cred[1], cred[2]
        key = self.st.cfg.keys.get(secret_id)
        if key is None:
            raise ApiError("AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that your SecretId is correct.")
        secret, token = key
        stamp = headers.get("x-tc-timestamp", "")
        if not stamp.isdigit():
            raise ApiError("AuthFailure.SignatureFailure", "The header `X-TC-Timestamp` is missing or malformed.")
        if abs(time.time() - int(stamp)) > MAX_SKEW:
            raise ApiError("AuthFailure.SignatureExpire",
                           f"Signature expired. Timestamp `{stamp}` is more than 5 minutes from the server time.")
        if date != time.strftime("%Y-%m-%d", time.gmtime(int(stamp))):
            raise ApiError("AuthFailure.SignatureFailure", "The date of the credential scope does not match `X-TC-Timestamp`.")
        if service != svc:
            raise ApiError("AuthFailure.SignatureFailure", f"The credential scope names `{service}`, not `{svc}`.")
        signed = [h for h in fields.get("SignedHeaders", "").split(";") if h]
        if "content-type" not in signed or "host" not in signed:
            raise ApiError("AuthFailure.SignatureFailure", "`content-type` and `host` must be signed.")
        query = url.query if self.command == "GET" else ""
        sts = tc3_string_to_sign(self.command, url.path or "/", query, headers, signed,
                                 b"" if self.command == "GET" else body, stamp, f"{date}/{service}/tc3_request")
        if not hmac.compare_digest(tc3_signature(secret, date, service, sts), fields.get("Signature", "")):
            raise ApiError("AuthFailure.SignatureFailure",
                           "The provided credentials could not be validated. Please check your signature is correct.")
        if token and headers.get("x-tc-token") != token:
            raise ApiError("AuthFailure.TokenFailure", "The `X-TC-Token` is missing or not valid for this SecretId.")


# ---------------------------------------------------------------- views


def resources_view(st):
    """Everything held, by kind, without the built-in public images."""
    out = {}
    for kind, table in st.res.items():
        rows = []
        for r in table.values():
            if r.get("_public"):
                continue
            rows.append({k: v for k, v in r.items() if not k.startswith("_") and k != "PublicKey"})
        out[kind] = rows
    return out


# ---------------------------------------------------------------- TLS


def endpoint_hosts(regions):
    hosts = ["localhost", "cvm.tencentcloudapi.com", "vpc.tencentcloudapi.com", "tag.tencentcloudapi.com"]
    for r in regions:
        hosts += [f"cvm.{r}.tencentcloudapi.com", f"vpc.{r}.tencentcloudapi.com"]
    return hosts


# ---------------------------------------------------------------- main


class Config(fake_server.Config):
    def __init__(self, a):
        # SecretId -> (SecretKey, token or None), from `ID:KEY[:TOKEN]`.
        keys = fake_server.parse_keys("TENCENTCLOUD_FAKE_KEYS", "AKIDfakesecretid",
                                      os.environ.get("TENCENTCLOUD_FAKE_SECRET", "fakesecretkey"))
        super().__init__(a, {k: key_and_token(v) for k, v in keys.items()})


def key_and_token(v):
    """`KEY[:TOKEN]` as (key, token or None)."""
    key, _, token = v.partition(":")
    return key, token.split(":")[0] or None


def main():
    fake_server.main("tencentcloud", "A FAKE Tencent Cloud API (CVM, VPC) for tests, on loopback.", Handler,
                     lambda a: State(Config(a)), Api, endpoint_hosts(REGIONS), "kiln FAKE Tencent Cloud CA",
                     "tencentcloudapi.com")


if __name__ == "__main__":
    main()
