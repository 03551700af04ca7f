#!/usr/bin/env python3
"""A FAKE Alibaba Cloud API server for kiln's tests (not Alibaba's code).

It answers the RPC-style ECS (2014-05-26) and VPC (2016-04-28) actions that
Packer's alicloud-ecs builder and Alibaba's SDKs call, plus a small OSS and
RAM subset, on loopback only, over plain HTTP and HTTPS (a CA generated at
start, with SANs for Alibaba's endpoint host names). Requests are signed and
checked as Alibaba checks them: RPC signature v1 (HMAC-SHA1), ACS3-HMAC-SHA256
and OSS header signatures, with nonce reuse, clock skew, unknown keys and bad
signatures rejected with Alibaba's codes and error bodies.

Resources move through Alibaba's states (instances Pending -> Stopped ->
Starting -> Running -> Stopping -> Stopped, images Creating -> Available,
EIPs Associating -> InUse, ...) after realistic delays multiplied by a time
scale (`--time-scale 0.01` makes a 60 s image take 0.6 s).

Admin endpoints (not Alibaba's): GET /_fake/resources, GET /_fake/requests,
POST /_fake/reset, GET|POST /_fake/config, GET /_fake/delays,
GET /_fake/authorized_keys.

Run `alicloud_fake.py --help`; README.md beside this file says more.
"""

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import json
import os
import random
import re
import string
import sys
import time
import uuid
from urllib.parse import parse_qsl, quote, unquote, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared"))
import fake_server  # noqa: E402  (fakes/shared: what every fake does alike)

# ---------------------------------------------------------------- catalogue

REGIONS = {
    "cn-qingdao": "华北1（青岛）",
    "cn-beijing": "华北2（北京）",
    "cn-zhangjiakou": "华北3（张家口）",
    "cn-huhehaote": "华北5（呼和浩特）",
    "cn-wulanchabu": "华北6（乌兰察布）",
    "cn-hangzhou": "华东1（杭州）",
    "cn-shanghai": "华东2（上海）",
    "cn-nanjing": "华东5（南京）",
    "cn-shenzhen": "华南1（深圳）",
    "cn-heyuan": "华南2（河源）",
    "cn-guangzhou": "华南3（广州）",
    "cn-chengdu": "西南1（成都）",
    "cn-hongkong": "中国（香港）",
    "ap-northeast-1": "日本（东京）",
    "ap-southeast-1": "新加坡",
    "ap-southeast-2": "澳大利亚（悉尼）",
    "ap-southeast-3": "马来西亚（吉隆坡）",
    "ap-southeast-5": "印度尼西亚（雅加达）",
    "ap-south-1": "印度（孟买）",
    "us-east-1": "美国（弗吉尼亚）",
    "us-west-1": "美国（硅谷）",
    "eu-west-1": "英国（伦敦）",
    "eu-central-1": "德国（法兰克福）",
    "me-east-1": "阿联酋（迪拜）",
}
ZONE_SUFFIXES = ["a", "b", "c"]
INSTANCE_TYPES = {
    "ecs.n1.tiny": (1, 1.0),
    "ecs.n1.small": (1, 2.0),
    "ecs.t5-lc1m1.small": (1, 1.0),
    "ecs.g6.large": (2, 8.0),
    "ecs.c6.large": (2, 4.0),
    "ecs.g7.xlarge": (4, 16.0),
}
PUBLIC_IMAGES = [
    # (image id, OS name, platform, size GiB)
    ("centos_7_9_x64_20G_alibase_20200000.vhd", "CentOS  7.9 64位", "CentOS", 20),
    ("centos_7_9_x64_20G_alibase_20201120.vhd", "CentOS  7.9 64位", "CentOS", 20),
    ("ubuntu_20_04_x64_20G_alibase_20201120.vhd", "Ubuntu  20.04 64位", "Ubuntu", 20),
    ("debian_10_6_x64_20G_alibase_20201120.vhd", "Debian  10.6 64位", "Debian", 20),
    ("aliyun_2_1903_x64_20G_alibase_20200904.vhd", "Alibaba Cloud Linux  2.1903 64位", "Aliyun", 20),
]
# Realistic durations in seconds, multiplied by the time scale.
DELAYS = {
    "instance_create": 5,
    "instance_start": 15,
    "instance_stop": 15,
    "image_create": 60,
    "image_copy": 120,
    "image_import": 300,
    "snapshot": 30,
    "vpc": 3,
    "vswitch": 3,
    "eip": 2,
}
OWNER_ID = "1234567890123456"
ECS_VERSION = "2014-05-26"
VPC_VERSION = "2016-04-28"
RAM_VERSION = "2015-05-01"
LOCATION_VERSION = "2015-06-12"
# Regions whose ECS/VPC endpoint is the central one (`ecs.aliyuncs.com`).
CENTRAL_ENDPOINT_REGIONS = {"cn-qingdao", "cn-beijing", "cn-hangzhou", "cn-shanghai", "cn-shenzhen",
                            "cn-hongkong", "ap-southeast-1", "us-east-1", "us-west-1"}
STS_VERSION = "2015-04-01"
MAX_SKEW = 15 * 60
IMPORT_ROLE = "AliyunECSImageImportDefaultRole"
IMPORT_POLICY = "AliyunECSImageImportRolePolicy"


class ApiError(Exception):
    """An error answered with Alibaba's error body."""

    def __init__(self, status, code, message):
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message


def not_found(kind, rid):
    return ApiError(404, f"Invalid{kind}Id.NotFound", f"The specified {kind}Id `{rid}` does not exist.")


def rand_id(prefix, n=20):
    return fake_server.rand_id(prefix, n)


def iso_now(t=None):
    return dt.datetime.fromtimestamp(t if t is not None else time.time(), dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


iso_secs = fake_server.iso_time


def pe(s):
    """Alibaba's percent-encoding (RFC 3986 unreserved characters kept)."""
    return quote(s, safe="~", encoding="utf-8")


def json_list(params, name):
    """A parameter holding a JSON array of strings (`InstanceIds`)."""
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        v = json.loads(raw)
    except ValueError:
        raise ApiError(400, f"InvalidParameter", f"The specified parameter `{name}` is not a valid JSON array.")
    if not isinstance(v, list):
        raise ApiError(400, "InvalidParameter", f"The specified parameter `{name}` is not a valid JSON array.")
    return [str(x) for x in v]


def repeat_list(params, name):
    """`Name.1`, `Name.2`, ... in order."""
    out = []
    i = 1
    while f"{name}.{i}" in params:
        out.append(params[f"{name}.{i}"])
        i += 1
    return out


def tags_from(params, prefix="Tag"):
    tags = {}
    for i in range(1, 21):
        k = params.get(f"{prefix}.{i}.Key")
        if k is None:
            continue
        tags[k] = params.get(f"{prefix}.{i}.Value", "")
    return tags


def tag_view(tags):
    return {"Tag": [{"TagKey": k, "TagValue": v, "Key": k, "Value": v} for k, v in tags.items()]}


def paginate(items, params, key, inner):
    size = int(params.get("PageSize") or params.get("MaxResults") or 10)
    page = int(params.get("PageNumber") or 1)
    size = max(1, min(size, 100))
    chunk = items[(page - 1) * size : page * size]
    return {"TotalCount": len(items), "PageNumber": page, "PageSize": size, key: {inner: chunk}}


# ---------------------------------------------------------------- state


class State(fake_server.State):
    """Everything the fake holds; one lock guards it all."""

    def reset(self):
        with self.lock:
            self.res = {
                k: {}
                for k in (
                    "instance", "disk", "image", "snapshot", "vpc", "vswitch",
                    "security_group", "key_pair", "eip", "bucket", "object",
                    "multipart", "role", "task",
                )
            }
            self.log = []
            self.nonces = {}
            self.tokens = {}
            self.seq = 0
            self.ip_seq = 10
            for region in REGIONS:
                for img, osname, platform, size in PUBLIC_IMAGES:
                    self.res["image"][(region, img)] = {
                        "ImageId": img, "RegionId": region, "ImageName": img,
                        "ImageOwnerAlias": "system", "Status": "Available", "Progress": "100%",
                        "OSName": osname, "OSNameEn": osname, "OSType": "linux", "Platform": platform,
                        "Architecture": "x86_64", "Size": size, "CreationTime": "2020-11-20T00:00:00Z",
                        "Description": "", "ImageVersion": "", "Usage": "instance", "IsSelfShared": "",
                        "IsCopied": False, "IsSupportIoOptimized": True, "IsSupportCloudinit": True,
                        "IsPublic": True, "tags": {}, "disks": [], "shared": [], "_public": True,
                        "_next": [],
                    }
            if self.cfg.import_role:
                self.res["role"][IMPORT_ROLE] = {
                    "RoleName": IMPORT_ROLE, "RoleId": "3" + "".join(random.choice(string.digits) for _ in range(17)),
                    "Arn": f"acs:ram::{OWNER_ID}:role/{IMPORT_ROLE.lower()}",
                    "AssumeRolePolicyDocument": json.dumps({
                        "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                                       "Principal": {"Service": ["ecs.aliyuncs.com"]}}],
                        "Version": "1"}),
                    "policies": [IMPORT_POLICY], "_next": [],
                }

    # Delays ---------------------------------------------------------------
    def later(self, res, kind, updates):
        """Applies `updates` to `res` after the scaled delay of `kind`."""
        return self.at(res, DELAYS[kind] * self.cfg.time_scale, updates)


# ---------------------------------------------------------------- signatures


def rpc_v1_string_to_sign(method, params):
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    canon = "&".join(f"{pe(k)}={pe(v)}" for k, v in pairs)
    return f"{method}&{pe('/')}&{pe(canon)}"


def rpc_v1_signature(secret, method, params):
    sts = rpc_v1_string_to_sign(method, params)
    mac = hmac.new((secret + "&").encode(), sts.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode(), sts


def acs3_signature(secret, method, path, query, headers, signed, payload_hash, algorithm="ACS3-HMAC-SHA256"):
    cq = "&".join(f"{pe(k)}={pe(v)}" for k, v in sorted(query))
    ch = "".join(f"{h}:{headers.get(h, '').strip()}\n" for h in signed)
    creq = f"{method}\n{quote(path, safe='/~')}\n{cq}\n{ch}\n{';'.join(signed)}\n{payload_hash}"
    sts = f"{algorithm}\n{hashlib.sha256(creq.encode()).hexdigest()}"
    return hmac.new(secret.encode(), sts.encode(), hashlib.sha256).hexdigest(), sts


def oss_string_to_sign(method, headers, bucket, key, query):
    """OSS header signature v1 (`Authorization: OSS ak:sig`)."""
    sub = [
        "acl", "uploads", "location", "cors", "logging", "website", "referer", "lifecycle", "delete",
        "append", "tagging", "objectMeta", "uploadId", "partNumber", "security-token", "position",
        "img", "style", "styleName", "replication", "replicationProgress", "replicationLocation",
        "cname", "bucketInfo", "comp", "qos", "live", "status", "vod", "startTime", "endTime",
        "symlink", "x-oss-process", "response-content-type", "response-content-language",
        "response-expires", "response-cache-control", "response-content-disposition",
        "response-content-encoding", "udf", "udfName", "udfImage", "udfId", "udfImageDesc",
        "udfApplication", "udfApplicationLog", "restore", "callback", "callback-var", "stat",
        "versions", "versioning", "versionId", "sequential", "policy", "encryption",
        "worm", "wormId", "wormExtend", "inventory", "inventoryId", "continuation-token",
        "regionList", "objectInfo", "resourceGroup", "metaQuery", "x-oss-ac-source-ip",
    ]
    h = {k.lower(): v for k, v in headers.items()}
    oss_h = "".join(f"{k}:{h[k].strip()}\n" for k in sorted(k for k in h if k.startswith("x-oss-")))
    resource = "/"
    if bucket:
        resource = f"/{bucket}/{key}"
    qs = sorted((k, v) for k, v in query if k in sub)
    if qs:
        resource += "?" + "&".join(k if v == "" else f"{k}={v}" for k, v in qs)
    return "\n".join([method, h.get("content-md5", ""), h.get("content-type", ""), h.get("date", "")]) + "\n" + oss_h + resource


# ---------------------------------------------------------------- ECS / VPC


class Api:
    """The actions; each takes the request's params and returns a dict."""

    def __init__(self, st):
        self.st = st
        self.cfg = st.cfg

    # Helpers --------------------------------------------------------------
    def region(self, p, required=True):
        r = p.get("RegionId")
        if not r:
            if required:
                raise ApiError(400, "MissingRegionId", "RegionId is mandatory for this action.")
            return None
        if r not in REGIONS:
            raise ApiError(404, "InvalidRegionId.NotFound", f"The specified RegionId `{r}` does not exist.")
        return r

    @staticmethod
    def _tagged(res, p):
        """Whether `res` carries every `Tag.N` filter of the request."""
        return all(res["tags"].get(k) == v for k, v in tags_from(p).items())

    def need(self, p, name):
        v = p.get(name)
        if v in (None, ""):
            raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")
        return v

    def get(self, kind, rid, region, label):
        r = self.st.res[kind].get(rid)
        if r is None or (region and r["RegionId"] != region):
            raise not_found(label, rid)
        return r

    def idem(self, p, action, fn):
        tok = p.get("ClientToken")
        if tok:
            key = (action, tok)
            if key in self.st.tokens:
                return self.st.tokens[key]
        out = fn()
        if tok:
            self.st.tokens[(action, tok)] = out
        return out

    def instance_view(self, i):
        return {
            "InstanceId": i["InstanceId"], "InstanceName": i["InstanceName"], "HostName": i["HostName"],
            "RegionId": i["RegionId"], "ZoneId": i["ZoneId"], "Status": i["Status"],
            "InstanceType": i["InstanceType"], "InstanceTypeFamily": i["InstanceType"].rsplit(".", 1)[0],
            "Cpu": i["Cpu"], "Memory": i["Memory"], "ImageId": i["ImageId"], "OSType": "linux",
            "OSName": i.get("OSName", ""), "IoOptimized": i["IoOptimized"],
            "InstanceNetworkType": "vpc" if i["VpcId"] else "classic", "InstanceChargeType": "PostPaid",
            "InternetChargeType": i["InternetChargeType"], "InternetMaxBandwidthOut": i["InternetMaxBandwidthOut"],
            "InternetMaxBandwidthIn": 200, "CreationTime": i["CreationTime"], "StartTime": i.get("StartTime", ""),
            "ExpiredTime": "2099-12-31T15:59Z", "StoppedMode": "Not-applicable", "KeyPairName": i.get("KeyPairName", ""),
            "SerialNumber": i["SerialNumber"], "Description": i.get("Description", ""), "DeletionProtection": False,
            "VpcAttributes": {
                "VpcId": i["VpcId"], "VSwitchId": i["VSwitchId"], "NatIpAddress": "",
                "PrivateIpAddress": {"IpAddress": [i["PrivateIp"]] if i["VpcId"] else []},
            },
            "InnerIpAddress": {"IpAddress": [] if i["VpcId"] else [i["PrivateIp"]]},
            "PublicIpAddress": {"IpAddress": [i["PublicIp"]] if i.get("PublicIp") else []},
            "EipAddress": {
                "AllocationId": i.get("EipId", ""), "IpAddress": i.get("EipIp", ""),
                "Bandwidth": 5 if i.get("EipId") else 0, "InternetChargeType": "PayByTraffic" if i.get("EipId") else "",
                "IsSupportUnassociate": True,
            },
            "SecurityGroupIds": {"SecurityGroupId": list(i["SecurityGroupIds"])},
            "Tags": tag_view(i["tags"]),
            "OperationLocks": {"LockReason": []},
            "NetworkInterfaces": {"NetworkInterface": [{
                "NetworkInterfaceId": i["EniId"], "PrimaryIpAddress": i["PrivateIp"], "Type": "Primary",
                "MacAddress": i["Mac"]}]},
        }

    def image_view(self, im):
        prog = im["Progress"]
        if im["Status"] in ("Creating", "Waiting") and im.get("_t0") is not None:
            span = max(im["_due"] - im["_t0"], 1e-6)
            prog = f"{min(99, int((time.time() - im['_t0']) / span * 100))}%"
        return {
            "ImageId": im["ImageId"], "ImageName": im["ImageName"], "ImageOwnerAlias": im["ImageOwnerAlias"],
            "Status": im["Status"], "Progress": prog, "OSName": im["OSName"], "OSNameEn": im["OSNameEn"],
            "OSType": im["OSType"], "Platform": im["Platform"], "Architecture": im["Architecture"],
            "Size": im["Size"], "CreationTime": im["CreationTime"], "Description": im["Description"],
            "ImageVersion": im["ImageVersion"], "Usage": im["Usage"], "IsSelfShared": im["IsSelfShared"],
            "IsCopied": im["IsCopied"], "IsSupportIoOptimized": im["IsSupportIoOptimized"],
            "IsSupportCloudinit": im["IsSupportCloudinit"], "IsPublic": im["IsPublic"],
            "IsSubscribed": False, "ProductCode": "", "ImageFamily": "", "BootMode": "BIOS",
            "ResourceGroupId": "", "Tags": tag_view(im["tags"]),
            "DiskDeviceMappings": {"DiskDeviceMapping": [
                {"SnapshotId": d["SnapshotId"], "Size": str(d["Size"]), "Device": d["Device"], "Type": d["Type"],
                 "Format": d.get("Format", ""), "ImportOSSBucket": d.get("ImportOSSBucket", ""),
                 "ImportOSSObject": d.get("ImportOSSObject", ""), "Progress": "100%"}
                for d in im["disks"]]},
        }

    def image(self, region, iid):
        im = self.st.res["image"].get((region, iid))
        if im is None:
            raise ApiError(404, "InvalidImageId.NotFound", f"The specified ImageId `{iid}` does not exist.")
        return im

    def new_snapshot(self, region, disk_id, size, kind, disk_type="system", usage="image", encrypted=False):
        sid = rand_id("s-")
        s = {"SnapshotId": sid, "RegionId": region, "Status": "progressing", "Progress": "0%",
             "SourceDiskId": disk_id, "SourceDiskSize": str(size), "SourceDiskType": disk_type,
             "Usage": usage, "CreationTime": iso_secs(), "SnapshotName": "", "Encrypted": encrypted,
             "tags": {}, "_next": []}
        self.st.res["snapshot"][sid] = s
        self.st.later(s, kind, {"Status": "accomplished", "Progress": "100%"})
        return s

    def new_image(self, region, name, size, osinfo, kind, disks, desc="", version="", copied=False):
        iid = rand_id("m-")
        t0 = time.time()
        im = {
            "ImageId": iid, "RegionId": region, "ImageName": name, "ImageOwnerAlias": "self",
            "Status": "Creating", "Progress": "0%", "OSName": osinfo[0], "OSNameEn": osinfo[0],
            "OSType": "linux", "Platform": osinfo[1], "Architecture": "x86_64", "Size": size,
            "CreationTime": iso_secs(), "Description": desc, "ImageVersion": version, "Usage": "none",
            "IsSelfShared": "", "IsCopied": copied, "IsSupportIoOptimized": True, "IsSupportCloudinit": True,
            "IsPublic": False, "tags": {}, "disks": disks, "shared": [], "_public": False, "_next": [], "_t0": t0,
        }
        im["_due"] = self.st.later(im, kind, {"Status": "Available", "Progress": "100%"})
        self.st.res["image"][(region, iid)] = im
        return im

    def self_image_names(self, region):
        return {
            im["ImageName"] for (r, _), im in self.st.res["image"].items()
            if r == region and not im["_public"] and im["Status"] != "CreateFailed"
        }

    # Regions, zones, types --------------------------------------------------
    def DescribeRegions(self, p, svc):
        host = "ecs" if svc == "ecs" else "vpc"
        return {"Regions": {"Region": [
            {"RegionId": r, "LocalName": n, "RegionEndpoint": f"{host}.{r}.aliyuncs.com", "Status": "available"}
            for r, n in REGIONS.items()]}}

    def DescribeZones(self, p, svc):
        r = self.region(p)
        zones = []
        for z in ZONE_SUFFIXES:
            zones.append({
                "ZoneId": f"{r}-{z}", "LocalName": f"{REGIONS[r]} 可用区{z.upper()}", "ZoneType": "AvailabilityZone",
                "AvailableResourceCreation": {"ResourceTypes": ["VSwitch", "IoOptimized", "Instance", "Disk", "DedicatedHost"]},
                "AvailableInstanceTypes": {"InstanceTypes": sorted(INSTANCE_TYPES)},
                "AvailableDiskCategories": {"DiskCategories": ["cloud_efficiency", "cloud_ssd", "cloud_essd"]},
                "AvailableVolumeCategories": {"VolumeCategories": ["san_ssd", "san_efficiency"]},
                "AvailableResources": {"ResourcesInfo": []},
                "DedicatedHostGenerations": {"DedicatedHostGeneration": []},
                "AvailableDedicatedHostTypes": {"DedicatedHostType": []},
            })
        return {"Zones": {"Zone": zones}}

    def DescribeInstanceTypes(self, p, svc):
        want = repeat_list(p, "InstanceTypes")
        out = [{"InstanceTypeId": t, "CpuCoreCount": c, "MemorySize": m, "InstanceTypeFamily": t.rsplit(".", 1)[0]}
               for t, (c, m) in sorted(INSTANCE_TYPES.items()) if not want or t in want]
        return {"InstanceTypes": {"InstanceType": out}}

    # Key pairs --------------------------------------------------------------
    def _fingerprint(self, pub):
        try:
            blob = base64.b64decode(pub.split()[1])
        except Exception:
            raise ApiError(400, "InvalidPublicKeyBody.Malformed", "The specified public key body is malformed.")
        return hashlib.md5(blob).hexdigest()

    def _add_key(self, r, name, pub, p):
        if not name:
            raise ApiError(400, "MissingKeyPairName", "KeyPairName is mandatory for this action.")
        if (r, name) in self.st.res["key_pair"]:
            raise ApiError(400, "KeyPair.AlreadyExist", "The key pair already exist.")
        fp = self._fingerprint(pub)
        self.st.res["key_pair"][(r, name)] = {
            "KeyPairName": name, "RegionId": r, "KeyPairFingerPrint": fp, "PublicKey": pub,
            "CreationTime": iso_secs(), "tags": tags_from(p), "_next": []}
        return fp

    def CreateKeyPair(self, p, svc):
        r = self.region(p)
        name = p.get("KeyPairName", "")
        if (r, name) in self.st.res["key_pair"]:
            raise ApiError(400, "KeyPair.AlreadyExist", "The key pair already exist.")
        priv, pub = fake_server.keygen()
        fp = self._add_key(r, name, pub, p)
        return {"KeyPairName": name, "KeyPairFingerPrint": fp, "PrivateKeyBody": priv, "KeyPairId": name}

    def ImportKeyPair(self, p, svc):
        r = self.region(p)
        pub = self.need(p, "PublicKeyBody").strip()
        fp = self._add_key(r, p.get("KeyPairName", ""), pub, p)
        return {"KeyPairName": p["KeyPairName"], "KeyPairFingerPrint": fp}

    def DescribeKeyPairs(self, p, svc):
        r = self.region(p)
        name = p.get("KeyPairName")
        items = [{"KeyPairName": k["KeyPairName"], "KeyPairFingerPrint": k["KeyPairFingerPrint"],
                  "CreationTime": k["CreationTime"], "Tags": tag_view(k["tags"]), "ResourceGroupId": ""}
                 for (kr, kn), k in sorted(self.st.res["key_pair"].items())
                 if kr == r and (not name or kn == name) and self._tagged(k, p)]
        return paginate(items, p, "KeyPairs", "KeyPair")

    def DeleteKeyPairs(self, p, svc):
        r = self.region(p)
        names = json_list(p, "KeyPairNames") or []
        for n in names:
            if (r, n) not in self.st.res["key_pair"]:
                raise ApiError(404, "InvalidKeyPair.NotFound", f"The specified KeyPair `{n}` does not exist.")
        for n in names:
            for i in self.st.res["instance"].values():
                if i["RegionId"] == r and i.get("KeyPairName") == n:
                    raise ApiError(403, "DependencyViolation.KeyPair", "The specified key pair is attached to instance(s).")
            del self.st.res["key_pair"][(r, n)]
        return {}

    def _attach(self, p, attach):
        r = self.region(p)
        name = self.need(p, "KeyPairName")
        if (r, name) not in self.st.res["key_pair"]:
            raise ApiError(404, "InvalidKeyPair.NotFound", f"The specified KeyPair `{name}` does not exist.")
        ids = json_list(p, "InstanceIds") or []
        results = []
        fail = 0
        for iid in ids:
            i = self.st.res["instance"].get(iid)
            if i is None or i["RegionId"] != r:
                fail += 1
                results.append({"InstanceId": iid, "Success": "false", "Code": "InvalidInstanceId.NotFound",
                                "Message": "The specified InstanceId does not exist."})
                continue
            if attach:
                i["KeyPairName"] = name
            elif i.get("KeyPairName") == name:
                i["KeyPairName"] = ""
            results.append({"InstanceId": iid, "Success": "true", "Code": "200", "Message": "successful"})
        return {"TotalCount": str(len(ids)), "FailCount": str(fail), "KeyPairName": name,
                "Results": {"Result": results}}

    def AttachKeyPair(self, p, svc):
        return self._attach(p, True)

    def DetachKeyPair(self, p, svc):
        return self._attach(p, False)

    # VPC ------------------------------------------------------------------
    def CreateVpc(self, p, svc):
        r = self.region(p)

        def make():
            vid = rand_id("vpc-")
            v = {"VpcId": vid, "RegionId": r, "Status": "Pending", "VpcName": p.get("VpcName", ""),
                 "CidrBlock": p.get("CidrBlock") or "172.16.0.0/12", "Description": p.get("Description", ""),
                 "CreationTime": iso_secs(), "VRouterId": rand_id("vrt-"), "RouteTableId": rand_id("vtb-"),
                 "IsDefault": False, "tags": {}, "_next": []}
            self.st.res["vpc"][vid] = v
            self.st.later(v, "vpc", {"Status": "Available"})
            return {"VpcId": vid, "VRouterId": v["VRouterId"], "RouteTableId": v["RouteTableId"],
                    "ResourceGroupId": "rg-acfmfake"}
        return self.idem(p, "CreateVpc", make)

    def DescribeVpcs(self, p, svc):
        r = self.region(p)
        ids = [x for x in (p.get("VpcId") or "").split(",") if x]
        name = p.get("VpcName")
        items = []
        for v in self.st.res["vpc"].values():
            if v["RegionId"] != r or (ids and v["VpcId"] not in ids) or (name and v["VpcName"] != name):
                continue
            items.append({
                "VpcId": v["VpcId"], "RegionId": r, "Status": v["Status"], "VpcName": v["VpcName"],
                "CidrBlock": v["CidrBlock"], "Description": v["Description"], "CreationTime": v["CreationTime"],
                "VRouterId": v["VRouterId"], "IsDefault": False, "ResourceGroupId": "rg-acfmfake",
                "VSwitchIds": {"VSwitchId": [s["VSwitchId"] for s in self.st.res["vswitch"].values() if s["VpcId"] == v["VpcId"]]},
                "UserCidrs": {"UserCidr": []}, "Tags": tag_view(v["tags"]),
            })
        return paginate(items, p, "Vpcs", "Vpc")

    def DeleteVpc(self, p, svc):
        vid = self.need(p, "VpcId")
        v = self.get("vpc", vid, p.get("RegionId"), "Vpc")
        if any(i["VpcId"] == vid for i in self.st.res["instance"].values()):
            raise ApiError(400, "DependencyViolation.Instance", "Specified VPC has instance(s).")
        if any(s["VpcId"] == vid for s in self.st.res["vswitch"].values()):
            raise ApiError(400, "DependencyViolation.VSwitch", "Specified VPC has VSwitches.")
        if any(g["VpcId"] == vid for g in self.st.res["security_group"].values()):
            raise ApiError(400, "DependencyViolation.SecurityGroup", "Specified VPC has security groups.")
        if v["Status"] != "Available":
            raise ApiError(400, "IncorrectVpcStatus", "The current status of the VPC does not support this operation.")
        del self.st.res["vpc"][vid]
        return {}

    def CreateVSwitch(self, p, svc):
        vid = self.need(p, "VpcId")
        v = self.get("vpc", vid, p.get("RegionId"), "Vpc")
        zone = self.need(p, "ZoneId")
        if zone not in [f"{v['RegionId']}-{z}" for z in ZONE_SUFFIXES]:
            raise ApiError(404, "InvalidZoneId.NotFound", f"The specified ZoneId `{zone}` does not exist.")
        if v["Status"] != "Available":
            raise ApiError(400, "IncorrectVpcStatus", "The current status of the VPC does not support this operation.")
        cidr = self.need(p, "CidrBlock")

        def make():
            sid = rand_id("vsw-")
            s = {"VSwitchId": sid, "RegionId": v["RegionId"], "VpcId": vid, "ZoneId": zone, "CidrBlock": cidr,
                 "VSwitchName": p.get("VSwitchName", ""), "Description": p.get("Description", ""),
                 "Status": "Pending", "CreationTime": iso_secs(), "tags": {}, "_next": []}
            self.st.res["vswitch"][sid] = s
            self.st.later(s, "vswitch", {"Status": "Available"})
            return {"VSwitchId": sid}
        return self.idem(p, "CreateVSwitch", make)

    def DescribeVSwitches(self, p, svc):
        r = p.get("RegionId")
        if r:
            self.region(p)
        items = []
        for s in self.st.res["vswitch"].values():
            if (r and s["RegionId"] != r) or (p.get("VpcId") and s["VpcId"] != p["VpcId"]):
                continue
            if p.get("VSwitchId") and s["VSwitchId"] != p["VSwitchId"]:
                continue
            if p.get("ZoneId") and s["ZoneId"] != p["ZoneId"]:
                continue
            used = sum(1 for i in self.st.res["instance"].values() if i["VSwitchId"] == s["VSwitchId"])
            items.append({
                "VSwitchId": s["VSwitchId"], "VpcId": s["VpcId"], "Status": s["Status"], "CidrBlock": s["CidrBlock"],
                "ZoneId": s["ZoneId"], "AvailableIpAddressCount": 252 - used, "VSwitchName": s["VSwitchName"],
                "Description": s["Description"], "CreationTime": s["CreationTime"], "IsDefault": False,
                "ResourceGroupId": "rg-acfmfake", "Tags": tag_view(s["tags"]),
            })
        return paginate(items, p, "VSwitches", "VSwitch")

    def DeleteVSwitch(self, p, svc):
        sid = self.need(p, "VSwitchId")
        s = self.get("vswitch", sid, p.get("RegionId"), "VSwitch")
        if any(i["VSwitchId"] == sid for i in self.st.res["instance"].values()):
            raise ApiError(400, "DependencyViolation", "Specified object has dependent resources.")
        if s["Status"] != "Available":
            raise ApiError(400, "IncorrectVSwitchStatus", "The current status of vswitch does not support this operation.")
        del self.st.res["vswitch"][sid]
        return {}

    # Security groups ----------------------------------------------------------
    def CreateSecurityGroup(self, p, svc):
        r = self.region(p)
        vid = p.get("VpcId", "")
        if vid:
            self.get("vpc", vid, r, "Vpc")

        def make():
            gid = rand_id("sg-")
            self.st.res["security_group"][gid] = {
                "SecurityGroupId": gid, "RegionId": r, "VpcId": vid,
                "SecurityGroupName": p.get("SecurityGroupName", ""), "Description": p.get("Description", ""),
                "SecurityGroupType": p.get("SecurityGroupType", "normal"), "CreationTime": iso_secs(),
                "rules": [], "tags": tags_from(p), "_next": []}
            return {"SecurityGroupId": gid}
        return self.idem(p, "CreateSecurityGroup", make)

    def _authorize(self, p, direction, cidr_key):
        """One ingress or egress rule; the same rule twice is Alibaba's `InvalidPermission.Duplicate`."""
        r = self.region(p)
        g = self.get("security_group", self.need(p, "SecurityGroupId"), r, "SecurityGroup")
        proto = self.need(p, "IpProtocol").lower()
        if proto not in ("tcp", "udp", "icmp", "gre", "all", "icmpv6"):
            raise ApiError(400, "InvalidIpProtocol.Malformed", f"The specified IpProtocol `{proto}` is invalid.")
        rule = {"IpProtocol": proto.upper() if proto != "all" else "ALL", "PortRange": self.need(p, "PortRange"),
                cidr_key: p.get(cidr_key, ""), "Policy": p.get("Policy", "Accept"),
                "NicType": p.get("NicType", "internet"), "Priority": p.get("Priority", "1"), "Direction": direction}
        if rule in g["rules"]:
            raise ApiError(400, "InvalidPermission.Duplicate", "The specified rule exists already.")
        g["rules"].append(rule)
        return {}

    def AuthorizeSecurityGroup(self, p, svc):
        return self._authorize(p, "ingress", "SourceCidrIp")

    def AuthorizeSecurityGroupEgress(self, p, svc):
        return self._authorize(p, "egress", "DestCidrIp")

    def DescribeSecurityGroups(self, p, svc):
        r = self.region(p)
        ids = json_list(p, "SecurityGroupIds") or ([p["SecurityGroupId"]] if p.get("SecurityGroupId") else None)
        items = []
        for g in self.st.res["security_group"].values():
            if g["RegionId"] != r or (ids and g["SecurityGroupId"] not in ids):
                continue
            if p.get("VpcId") and g["VpcId"] != p["VpcId"]:
                continue
            if p.get("SecurityGroupName") and g["SecurityGroupName"] != p["SecurityGroupName"]:
                continue
            if not self._tagged(g, p):
                continue
            items.append({
                "SecurityGroupId": g["SecurityGroupId"], "SecurityGroupName": g["SecurityGroupName"],
                "Description": g["Description"], "VpcId": g["VpcId"], "CreationTime": g["CreationTime"],
                "SecurityGroupType": g["SecurityGroupType"], "ServiceManaged": False, "ResourceGroupId": "",
                "EcsCount": sum(1 for i in self.st.res["instance"].values() if g["SecurityGroupId"] in i["SecurityGroupIds"]),
                "Tags": tag_view(g["tags"]),
            })
        out = paginate(items, p, "SecurityGroups", "SecurityGroup")
        out["RegionId"] = r
        return out

    def DescribeSecurityGroupAttribute(self, p, svc):
        r = self.region(p)
        g = self.get("security_group", self.need(p, "SecurityGroupId"), r, "SecurityGroup")
        return {"SecurityGroupId": g["SecurityGroupId"], "SecurityGroupName": g["SecurityGroupName"],
                "RegionId": r, "VpcId": g["VpcId"], "Description": g["Description"], "InnerAccessPolicy": "Accept",
                "Permissions": {"Permission": list(g["rules"])}}

    def DeleteSecurityGroup(self, p, svc):
        r = self.region(p)
        gid = self.need(p, "SecurityGroupId")
        self.get("security_group", gid, r, "SecurityGroup")
        if any(gid in i["SecurityGroupIds"] for i in self.st.res["instance"].values()):
            raise ApiError(403, "DependencyViolation", "There is still instance(s) in the specified security group.")
        del self.st.res["security_group"][gid]
        return {}

    # Instances ------------------------------------------------------------
    def CreateInstance(self, p, svc):
        r = self.region(p)
        itype = self.need(p, "InstanceType")
        if itype not in INSTANCE_TYPES:
            raise ApiError(403, "InvalidInstanceType.ValueNotSupported", f"The specified InstanceType `{itype}` does not exist or is not supported.")
        img = self.image(r, self.need(p, "ImageId"))
        if img["Status"] != "Available":
            raise ApiError(400, "InvalidImageId.NotAvailable", "The specified image is not available.")
        gid = self.need(p, "SecurityGroupId")
        g = self.get("security_group", gid, r, "SecurityGroup")
        vsw_id = p.get("VSwitchId", "")
        zone = p.get("ZoneId", "")
        vpc_id = ""
        if vsw_id:
            vsw = self.get("vswitch", vsw_id, r, "VSwitch")
            if zone and zone != vsw["ZoneId"]:
                raise ApiError(400, "InvalidVSwitchId.Mismatch", "The specified VSwitchId and ZoneId do not match.")
            zone = vsw["ZoneId"]
            vpc_id = vsw["VpcId"]
            if g["VpcId"] != vpc_id:
                raise ApiError(403, "InvalidSecurityGroup.NotInSameVpc", "The specified security group and vswitch are not in the same VPC.")
        elif g["VpcId"]:
            raise ApiError(400, "InvalidParameter.Mismatch", "A VPC security group needs a VSwitchId.")
        zone = zone or f"{r}-a"
        if zone not in [f"{r}-{z}" for z in ZONE_SUFFIXES]:
            raise ApiError(404, "InvalidZoneId.NotFound", f"The specified ZoneId `{zone}` does not exist.")

        def make():
            iid = rand_id("i-")
            n = self.st.next_ip()
            did = rand_id("d-")
            size = int(p.get("SystemDisk.Size") or img["Size"] or 20)
            self.st.res["disk"][did] = {"DiskId": did, "RegionId": r, "ZoneId": zone, "InstanceId": iid,
                                        "Type": "system", "Size": size, "Device": "/dev/xvda",
                                        "Category": p.get("SystemDisk.Category") or "cloud_efficiency",
                                        "Status": "In_use", "tags": {}, "_next": []}
            data_disks = []
            k = 1
            while f"DataDisk.{k}.Size" in p or f"DataDisk.{k}.Category" in p or f"DataDisk.{k}.SnapshotId" in p:
                ddid = rand_id("d-")
                self.st.res["disk"][ddid] = {
                    "DiskId": ddid, "RegionId": r, "ZoneId": zone, "InstanceId": iid, "Type": "data",
                    "Size": int(p.get(f"DataDisk.{k}.Size") or 20),
                    "Device": p.get(f"DataDisk.{k}.Device") or f"/dev/xvd{chr(ord('a') + k)}",
                    "Category": p.get(f"DataDisk.{k}.Category") or "cloud_efficiency",
                    "Status": "In_use", "tags": {}, "_next": []}
                data_disks.append(ddid)
                k += 1
            c, m = INSTANCE_TYPES[itype]
            inst = {
                "InstanceId": iid, "RegionId": r, "ZoneId": zone, "InstanceType": itype, "Cpu": c,
                "Memory": int(m * 1024), "ImageId": img["ImageId"], "OSName": img["OSName"],
                "Platform": img["Platform"], "InstanceName": p.get("InstanceName") or iid,
                "HostName": p.get("HostName") or f"iZ{iid[2:]}Z", "Description": p.get("Description", ""),
                "Status": "Pending", "IoOptimized": p.get("IoOptimized", "optimized") == "optimized",
                "VpcId": vpc_id, "VSwitchId": vsw_id, "SecurityGroupIds": [gid],
                "InternetChargeType": p.get("InternetChargeType") or "PayByTraffic",
                "InternetMaxBandwidthOut": int(p.get("InternetMaxBandwidthOut") or 0),
                "PrivateIp": self.cfg.private_ip or f"172.16.0.{n}", "CreationTime": iso_now(),
                "SerialNumber": str(uuid.uuid4()), "EniId": rand_id("eni-"),
                "Mac": "00:16:3e:%02x:%02x:%02x" % (random.randrange(256), random.randrange(256), random.randrange(256)),
                "SystemDiskId": did, "DataDiskIds": data_disks, "KeyPairName": p.get("KeyPairName", ""), "UserData": p.get("UserData", ""),
                "tags": tags_from(p), "_next": [],
            }
            self.st.res["instance"][iid] = inst
            self.st.later(inst, "instance_create", {"Status": "Stopped"})
            return {"InstanceId": iid, "OrderId": "", "TradePrice": 0.0}
        return self.idem(p, "CreateInstance", make)

    def DescribeInstances(self, p, svc):
        r = self.region(p)
        ids = json_list(p, "InstanceIds")
        items = []
        for i in self.st.res["instance"].values():
            if i["RegionId"] != r or (ids is not None and i["InstanceId"] not in ids):
                continue
            if p.get("Status") and i["Status"] != p["Status"]:
                continue
            if p.get("VpcId") and i["VpcId"] != p["VpcId"]:
                continue
            if p.get("InstanceName") and i["InstanceName"] != p["InstanceName"]:
                continue
            if not self._tagged(i, p):
                continue
            items.append(self.instance_view(i))
        return paginate(items, p, "Instances", "Instance")

    def DescribeInstanceAttribute(self, p, svc):
        i = self.get("instance", self.need(p, "InstanceId"), None, "Instance")
        return self.instance_view(i)

    def DescribeInstanceStatus(self, p, svc):
        r = self.region(p)
        items = [{"InstanceId": i["InstanceId"], "Status": i["Status"]}
                 for i in self.st.res["instance"].values() if i["RegionId"] == r]
        return paginate(items, p, "InstanceStatuses", "InstanceStatus")

    def _instance(self, p):
        return self.get("instance", self.need(p, "InstanceId"), p.get("RegionId"), "Instance")

    def _wrong_state(self):
        return ApiError(403, "IncorrectInstanceStatus", "The current status of the resource does not support this operation.")

    def StartInstance(self, p, svc):
        i = self._instance(p)
        if i["Status"] != "Stopped":
            raise self._wrong_state()
        i["Status"] = "Starting"
        self.st.later(i, "instance_start", {"Status": "Running", "StartTime": iso_now()})
        return {}

    def StopInstance(self, p, svc):
        i = self._instance(p)
        if i["Status"] != "Running":
            raise self._wrong_state()
        i["Status"] = "Stopping"
        self.st.later(i, "instance_stop", {"Status": "Stopped"})
        return {}

    def RebootInstance(self, p, svc):
        i = self._instance(p)
        if i["Status"] != "Running":
            raise self._wrong_state()
        return {}

    def DeleteInstance(self, p, svc):
        i = self._instance(p)
        force = p.get("Force", "false").lower() == "true"
        if i["Status"] == "Pending":
            raise ApiError(403, "IncorrectInstanceStatus.Initializing", "The specified instance is initializing.")
        if i["Status"] != "Stopped" and not force:
            raise self._wrong_state()
        self._destroy_instance(i)
        return {}

    def _destroy_instance(self, i):
        iid = i["InstanceId"]
        if i.get("EipId") and i["EipId"] in self.st.res["eip"]:
            e = self.st.res["eip"][i["EipId"]]
            e.update({"Status": "Available", "InstanceId": "", "InstanceType": ""})
            e["_next"] = []
        # Data disks go with the instance too (the fake has no detached disks).
        for did in [i["SystemDiskId"]] + i.get("DataDiskIds", []):
            self.st.res["disk"].pop(did, None)
        del self.st.res["instance"][iid]

    def ModifyInstanceAttribute(self, p, svc):
        i = self._instance(p)
        for k in ("InstanceName", "Description", "HostName"):
            if k in p:
                i[k] = p[k]
        return {}

    def AllocatePublicIpAddress(self, p, svc):
        i = self._instance(p)
        if i["Status"] not in ("Stopped", "Running"):
            raise self._wrong_state()
        if not i.get("PublicIp"):
            i["PublicIp"] = self.cfg.public_ip
        return {"IpAddress": i["PublicIp"]}

    # EIP ------------------------------------------------------------------
    def AllocateEipAddress(self, p, svc):
        r = self.region(p)

        def make():
            eid = rand_id("eip-")
            self.st.res["eip"][eid] = {
                "AllocationId": eid, "RegionId": r, "IpAddress": self.cfg.public_ip, "Status": "Available",
                "InstanceId": "", "InstanceType": "", "Bandwidth": p.get("Bandwidth") or "5",
                "InternetChargeType": p.get("InternetChargeType") or "PayByBandwidth",
                "AllocationTime": iso_secs(), "tags": {}, "_next": []}
            return {"AllocationId": eid, "EipAddress": self.cfg.public_ip, "ResourceGroupId": "rg-acfmfake"}
        return self.idem(p, "AllocateEipAddress", make)

    def DescribeEipAddresses(self, p, svc):
        r = self.region(p)
        items = []
        for e in self.st.res["eip"].values():
            if e["RegionId"] != r:
                continue
            if p.get("AllocationId") and e["AllocationId"] not in p["AllocationId"].split(","):
                continue
            if p.get("Status") and e["Status"] != p["Status"]:
                continue
            if p.get("EipAddress") and e["IpAddress"] != p["EipAddress"]:
                continue
            items.append({k: e[k] for k in ("AllocationId", "RegionId", "IpAddress", "Status", "InstanceId",
                                             "InstanceType", "Bandwidth", "InternetChargeType", "AllocationTime")}
                         | {"ChargeType": "PostPaid", "OperationLocks": {"LockReason": []}, "Tags": tag_view(e["tags"])})
        return paginate(items, p, "EipAddresses", "EipAddress")

    def AssociateEipAddress(self, p, svc):
        e = self.get("eip", self.need(p, "AllocationId"), p.get("RegionId"), "Allocation")
        i = self.get("instance", self.need(p, "InstanceId"), e["RegionId"], "Instance")
        if e["Status"] != "Available":
            raise ApiError(400, "IncorrectEipStatus", "The current status of the EIP does not support this operation.")
        if i["Status"] not in ("Stopped", "Running"):
            raise self._wrong_state()
        if i.get("EipId"):
            raise ApiError(400, "InvalidAssociation.Duplicated", "The instance already has an EIP.")
        e.update({"Status": "Associating", "InstanceId": i["InstanceId"], "InstanceType": p.get("InstanceType") or "EcsInstance"})
        i["EipId"], i["EipIp"] = e["AllocationId"], e["IpAddress"]
        self.st.later(e, "eip", {"Status": "InUse"})
        return {}

    def UnassociateEipAddress(self, p, svc):
        e = self.get("eip", self.need(p, "AllocationId"), p.get("RegionId"), "Allocation")
        if e["Status"] not in ("InUse",):
            raise ApiError(400, "IncorrectEipStatus", "The current status of the EIP does not support this operation.")
        i = self.st.res["instance"].get(e["InstanceId"])
        if i is not None:
            i["EipId"], i["EipIp"] = "", ""
        e["Status"] = "Unassociating"

        def done(x):
            x.update({"Status": "Available", "InstanceId": "", "InstanceType": ""})
        self.st.later(e, "eip", done)
        return {}

    def ReleaseEipAddress(self, p, svc):
        e = self.get("eip", self.need(p, "AllocationId"), p.get("RegionId"), "Allocation")
        if e["Status"] != "Available":
            raise ApiError(400, "IncorrectEipStatus", "The current status of the EIP does not support this operation.")
        del self.st.res["eip"][e["AllocationId"]]
        return {}

    # Images and snapshots ---------------------------------------------------
    def DescribeImages(self, p, svc):
        r = self.region(p)
        statuses = [s for s in (p.get("Status") or "Available").split(",") if s]
        ids = [x for x in (p.get("ImageId") or "").split(",") if x]
        owner = p.get("ImageOwnerAlias")
        name = p.get("ImageName")
        tag_filter = tags_from(p)
        items = []
        for (ir, _), im in sorted(self.st.res["image"].items(), key=lambda kv: kv[1]["CreationTime"], reverse=True):
            if ir != r or im["Status"] not in statuses:
                continue
            if ids and im["ImageId"] not in ids:
                continue
            if owner and im["ImageOwnerAlias"] != owner:
                continue
            if name and not self._name_match(name, im["ImageName"]):
                continue
            if any(im["tags"].get(k) != v for k, v in tag_filter.items()):
                continue
            items.append(self.image_view(im))
        out = paginate(items, p, "Images", "Image")
        out["RegionId"] = r
        return out

    @staticmethod
    def _name_match(pattern, name):
        if "*" in pattern:
            import fnmatch
            return fnmatch.fnmatchcase(name, pattern)
        return pattern == name

    def CreateImage(self, p, svc):
        r = self.region(p)
        # A retry with the same ClientToken answers the first call, before
        # any check: the image it made holds the name now.
        done = self.st.tokens.get(("CreateImage", p.get("ClientToken")))
        if p.get("ClientToken") and done is not None:
            return done
        name = p.get("ImageName") or ""
        if name and name in self.self_image_names(r):
            raise ApiError(400, "InvalidImageName.Duplicated", "The specified Image name has already been used.")
        if p.get("SnapshotId"):
            s = self.get("snapshot", p["SnapshotId"], r, "Snapshot")
            if s["Status"] != "accomplished":
                raise ApiError(403, "IncorrectSnapshotStatus", "The current status of the snapshot does not support this operation.")
            osinfo, size, src_snap = ("Linux", "Others Linux"), int(s["SourceDiskSize"]), s
        else:
            i = self.get("instance", self.need(p, "InstanceId"), r, "Instance")
            if i["Status"] not in ("Running", "Stopped"):
                raise self._wrong_state()
            osinfo, size, src_snap = (i["OSName"], i["Platform"]), self.st.res["disk"][i["SystemDiskId"]]["Size"], None

        def make():
            snap = src_snap
            data = []
            if snap is None:
                snap = self.new_snapshot(r, i["SystemDiskId"], size, "image_create")
                # An image of an instance holds a snapshot of each of its disks.
                for did in i.get("DataDiskIds", []):
                    d = self.st.res["disk"][did]
                    s = self.new_snapshot(r, did, d["Size"], "image_create", disk_type="data")
                    data.append({"SnapshotId": s["SnapshotId"], "Size": d["Size"], "Device": d["Device"], "Type": "data"})
            im = self.new_image(r, name or rand_id("image-", 8), size, osinfo, "image_create",
                                [{"SnapshotId": snap["SnapshotId"], "Size": size, "Device": "/dev/xvda", "Type": "system"}] + data,
                                desc=p.get("Description", ""), version=p.get("ImageVersion", ""))
            im["tags"].update(tags_from(p))
            im["SourceInstanceId"] = p.get("InstanceId", "")
            return {"ImageId": im["ImageId"]}
        return self.idem(p, "CreateImage", make)

    def DeleteImage(self, p, svc):
        r = self.region(p)
        im = self.image(r, self.need(p, "ImageId"))
        if im["_public"]:
            raise ApiError(403, "InvalidImageId.NotSupported", "Deleting a public image is not allowed.")
        if im["shared"] and p.get("Force", "false").lower() != "true":
            raise ApiError(403, "InvalidImageId.IsShared", "The image is shared with other accounts; remove the share or use Force.")
        del self.st.res["image"][(r, im["ImageId"])]
        return {}

    def CopyImage(self, p, svc):
        r = self.region(p)
        src = self.image(r, self.need(p, "ImageId"))
        if src["_public"]:
            raise ApiError(403, "InvalidImageId.NotSupported", "A public image cannot be copied.")
        if src["Status"] != "Available":
            raise ApiError(403, "IncorrectImageStatus", "The current status of the image does not support this operation.")
        dest = self.need(p, "DestinationRegionId")
        if dest not in REGIONS:
            raise ApiError(404, "InvalidRegionId.NotFound", f"The specified DestinationRegionId `{dest}` does not exist.")
        name = p.get("DestinationImageName") or src["ImageName"]
        if name in self.self_image_names(dest):
            raise ApiError(400, "InvalidImageName.Duplicated", "The specified Image name has already been used.")
        # `Encrypted=true` makes an encrypted copy (in the same region too:
        # Alibaba's way to encrypt an image).
        encrypted = p.get("Encrypted", "false").lower() == "true"
        snap = self.new_snapshot(dest, "", src["Size"], "image_copy", encrypted=encrypted)
        im = self.new_image(dest, name, src["Size"], (src["OSName"], src["Platform"]), "image_copy",
                            [{"SnapshotId": snap["SnapshotId"], "Size": src["Size"], "Device": "/dev/xvda", "Type": "system"}],
                            desc=p.get("DestinationDescription", src["Description"]), copied=True)
        im["Encrypted"] = encrypted
        im["Status"] = "Waiting"
        im["_next"].insert(0, (time.time() + DELAYS["image_copy"] * self.cfg.time_scale * 0.1, {"Status": "Creating"}))
        im["tags"].update(tags_from(p))
        return {"ImageId": im["ImageId"]}

    def CancelCopyImage(self, p, svc):
        r = self.region(p)
        im = self.image(r, self.need(p, "ImageId"))
        if im["Status"] not in ("Creating", "Waiting") or not im["IsCopied"]:
            raise ApiError(403, "IncorrectImageStatus", "The current status of the image does not support this operation.")
        del self.st.res["image"][(r, im["ImageId"])]
        for d in im["disks"]:
            self.st.res["snapshot"].pop(d["SnapshotId"], None)
        return {}

    def ModifyImageSharePermission(self, p, svc):
        r = self.region(p)
        im = self.image(r, self.need(p, "ImageId"))
        if im["_public"]:
            raise ApiError(403, "InvalidImageId.NotSupported", "A public image cannot be shared.")
        add, rem = repeat_list(p, "AddAccount"), repeat_list(p, "RemoveAccount")
        for a in add + rem:
            if not a.isdigit():
                raise ApiError(400, "InvalidAccount.NotFound", f"The specified account `{a}` does not exist.")
        for a in add:
            if a not in im["shared"]:
                im["shared"].append(a)
        im["shared"] = [a for a in im["shared"] if a not in rem]
        im["IsSelfShared"] = "True" if im["shared"] else ""
        return {}

    def DescribeImageSharePermission(self, p, svc):
        r = self.region(p)
        im = self.image(r, self.need(p, "ImageId"))
        out = paginate([{"AliyunId": a} for a in im["shared"]], p, "Accounts", "Account")
        out.update({"ImageId": im["ImageId"], "RegionId": r, "ShareGroups": {"ShareGroup": []}})
        return out

    def ModifyImageAttribute(self, p, svc):
        r = self.region(p)
        im = self.image(r, self.need(p, "ImageId"))
        for k in ("ImageName", "Description"):
            if p.get(k):
                im[k] = p[k]
        return {}

    def DescribeSnapshots(self, p, svc):
        r = self.region(p)
        ids = json_list(p, "SnapshotIds")
        items = []
        for s in self.st.res["snapshot"].values():
            if s["RegionId"] != r or (ids is not None and s["SnapshotId"] not in ids):
                continue
            if p.get("Status") and p["Status"] != "all" and s["Status"] != p["Status"]:
                continue
            if not self._tagged(s, p):
                continue
            items.append({k: s[k] for k in ("SnapshotId", "Status", "Progress", "SourceDiskId", "SourceDiskSize",
                                             "SourceDiskType", "Usage", "CreationTime", "SnapshotName", "Encrypted")}
                         | {"Tags": tag_view(s["tags"]), "RegionId": r})
        return paginate(items, p, "Snapshots", "Snapshot")

    def DeleteSnapshot(self, p, svc):
        sid = self.need(p, "SnapshotId")
        s = self.get("snapshot", sid, p.get("RegionId"), "Snapshot")
        for im in self.st.res["image"].values():
            if any(d["SnapshotId"] == sid for d in im["disks"]) and im["RegionId"] == s["RegionId"]:
                raise ApiError(403, "SnapshotCreatedImage", "The snapshot has been used to create user defined image.")
        del self.st.res["snapshot"][sid]
        return {}

    def DescribeDisks(self, p, svc):
        r = self.region(p)
        ids = json_list(p, "DiskIds")
        items = [{"DiskId": d["DiskId"], "RegionId": r, "ZoneId": d["ZoneId"], "InstanceId": d["InstanceId"],
                  "Type": d["Type"], "Size": d["Size"], "Device": d["Device"], "Category": d["Category"],
                  "Status": d["Status"], "Tags": tag_view(d["tags"])}
                 for d in self.st.res["disk"].values()
                 if d["RegionId"] == r and (ids is None or d["DiskId"] in ids)
                 and (not p.get("InstanceId") or d["InstanceId"] == p["InstanceId"])
                 and p.get("DiskType", "all") in ("all", d["Type"])]
        return paginate(items, p, "Disks", "Disk")

    def CreateSnapshot(self, p, svc):
        did = self.need(p, "DiskId")
        d = self.st.res["disk"].get(did)
        if d is None or (p.get("RegionId") and d["RegionId"] != p["RegionId"]):
            raise ApiError(404, "InvalidDiskId.NotFound", f"The specified DiskId `{did}` does not exist.")
        i = self.st.res["instance"].get(d["InstanceId"])
        if i is not None and i["Status"] not in ("Running", "Stopped"):
            raise self._wrong_state()

        def make():
            s = self.new_snapshot(d["RegionId"], did, d["Size"], "snapshot", disk_type=d["Type"], usage="none")
            s["SnapshotName"] = p.get("SnapshotName", "")
            s["tags"].update(tags_from(p))
            return {"SnapshotId": s["SnapshotId"]}
        return self.idem(p, "CreateSnapshot", make)

    def ImportImage(self, p, svc):
        r = self.region(p)
        role = p.get("RoleName") or IMPORT_ROLE
        # ECS reads OSS as the role: it must exist and carry the import policy.
        held = self.st.res["role"].get(role)
        if held is None or IMPORT_POLICY not in held["policies"]:
            raise ApiError(403, "NoSetRoletoECSServiceAcount", "The ECS service account has no role to read OSS; authorize `AliyunECSImageImportDefaultRole`.")
        name = p.get("ImageName") or rand_id("import-", 8)
        if name in self.self_image_names(r):
            raise ApiError(400, "InvalidImageName.Duplicated", "The specified Image name has already been used.")
        disks = []
        i = 1
        while f"DiskDeviceMapping.{i}.OSSBucket" in p or f"DiskDeviceMapping.{i}.OSSObject" in p:
            bucket = p.get(f"DiskDeviceMapping.{i}.OSSBucket", "")
            obj = p.get(f"DiskDeviceMapping.{i}.OSSObject", "")
            b = self.st.res["bucket"].get(bucket)
            if b is None or (bucket, obj) not in self.st.res["object"]:
                raise ApiError(404, "InvalidOSSObject.NotFound", f"The OSS object `{bucket}/{obj}` does not exist.")
            if b["Region"] != r:
                raise ApiError(400, "InvalidOSSBucket.RegionMismatch", "The OSS bucket is not in the image's region.")
            size = int(p.get(f"DiskDeviceMapping.{i}.DiskImageSize") or p.get(f"DiskDeviceMapping.{i}.DiskImSize") or 40)
            snap = self.new_snapshot(r, "", size, "image_import")
            disks.append({"SnapshotId": snap["SnapshotId"], "Size": size, "Device": p.get(f"DiskDeviceMapping.{i}.Device") or "/dev/xvda",
                          "Type": "system" if i == 1 else "data", "Format": p.get(f"DiskDeviceMapping.{i}.Format", ""),
                          "ImportOSSBucket": bucket, "ImportOSSObject": obj})
            i += 1
        if not disks:
            raise ApiError(400, "MissingDiskDeviceMapping", "DiskDeviceMapping is mandatory for this action.")
        im = self.new_image(r, name, disks[0]["Size"], (p.get("OSType") or "linux", p.get("Platform") or "Others Linux"),
                            "image_import", disks, desc=p.get("Description", ""))
        im["Status"] = "Waiting"
        im["OSType"] = p.get("OSType") or "linux"
        im["Architecture"] = p.get("Architecture") or "x86_64"
        im["tags"].update(tags_from(p))
        tid = "t-" + rand_id("", 16)
        self.st.res["task"][tid] = {"TaskId": tid, "RegionId": r, "TaskAction": "ImportImage", "ImageId": im["ImageId"],
                                    "TaskStatus": "Processing", "_next": []}
        return {"ImageId": im["ImageId"], "TaskId": tid, "RegionId": r}

    def DescribeTasks(self, p, svc):
        r = self.region(p)
        items = []
        for t in self.st.res["task"].values():
            if t["RegionId"] != r:
                continue
            im = self.st.res["image"].get((r, t["ImageId"]))
            status = "Finished" if im is None or im["Status"] == "Available" else "Processing"
            items.append({"TaskId": t["TaskId"], "TaskAction": t["TaskAction"], "TaskStatus": status})
        return paginate(items, p, "TaskSet", "Task")

    # Tags -------------------------------------------------------------------
    KIND_OF = {"instance": "instance", "image": "image", "snapshot": "snapshot", "disk": "disk",
               "securitygroup": "security_group", "keypair": "key_pair", "eni": None}

    def _tag_target(self, r, rtype, rid):
        kind = self.KIND_OF.get(rtype.lower())
        if kind is None:
            raise ApiError(400, "InvalidResourceType.NotSupported", f"The specified ResourceType `{rtype}` is not supported.")
        if kind == "image":
            return self.image(r, rid)
        if kind == "key_pair":
            k = self.st.res["key_pair"].get((r, rid))
            if k is None:
                raise ApiError(404, "InvalidKeyPair.NotFound", f"The specified KeyPair `{rid}` does not exist.")
            return k
        return self.get(kind, rid, r, {"security_group": "SecurityGroup"}.get(kind, kind.capitalize()))

    def AddTags(self, p, svc):
        r = self.region(p)
        t = self._tag_target(r, self.need(p, "ResourceType"), self.need(p, "ResourceId"))
        t["tags"].update(tags_from(p))
        return {}

    def RemoveTags(self, p, svc):
        r = self.region(p)
        t = self._tag_target(r, self.need(p, "ResourceType"), self.need(p, "ResourceId"))
        for k in tags_from(p):
            t["tags"].pop(k, None)
        return {}

    def TagResources(self, p, svc):
        r = self.region(p)
        rtype = self.need(p, "ResourceType")
        targets = [self._tag_target(r, rtype, rid) for rid in repeat_list(p, "ResourceId")]
        tags = tags_from(p)
        for t in targets:
            t["tags"].update(tags)
        return {}

    def UntagResources(self, p, svc):
        r = self.region(p)
        rtype = self.need(p, "ResourceType")
        keys = repeat_list(p, "TagKey")
        for rid in repeat_list(p, "ResourceId"):
            t = self._tag_target(r, rtype, rid)
            for k in keys or list(t["tags"]):
                t["tags"].pop(k, None)
        return {}

    def ListTagResources(self, p, svc):
        r = self.region(p)
        rtype = self.need(p, "ResourceType")
        out = []
        for rid in repeat_list(p, "ResourceId"):
            t = self._tag_target(r, rtype, rid)
            for k, v in t["tags"].items():
                out.append({"ResourceType": rtype, "ResourceId": rid, "TagKey": k, "TagValue": v})
        return {"NextToken": "", "TagResources": {"TagResource": out}}

    # Location (where the Go SDK asks for a product's regional endpoint) -----
    def DescribeEndpoints(self, p, svc):
        region = self.need(p, "Id")
        if region not in REGIONS:
            raise ApiError(404, "Illegal.RegionId", f"The specified region `{region}` does not exist.")
        code = self.need(p, "ServiceCode").lower()
        if code not in ("ecs", "vpc", "ram", "sts"):
            return {"Success": True, "Endpoints": {"Endpoint": []}}
        if code in ("ram", "sts"):
            host = f"{code}.aliyuncs.com"
        elif region in CENTRAL_ENDPOINT_REGIONS:
            host = f"{code}.aliyuncs.com"
        else:
            host = f"{code}.{region}.aliyuncs.com"
        return {"Success": True, "Endpoints": {"Endpoint": [{
            "Endpoint": host, "Id": region, "Namespace": "", "SerivceCode": code, "Type": p.get("Type", "openAPI"),
            "Protocols": {"Protocols": ["HTTP", "HTTPS"]}}]}}

    # RAM / STS ----------------------------------------------------------------
    def GetRole(self, p, svc):
        name = self.need(p, "RoleName")
        role = self.st.res["role"].get(name)
        if role is None:
            raise ApiError(404, "EntityNotExist.Role", f"The role not exists: {name}.")
        return {"Role": {k: role[k] for k in ("RoleName", "RoleId", "Arn", "AssumeRolePolicyDocument")}
                | {"Description": "", "CreateDate": "2020-01-01T00:00:00Z", "MaxSessionDuration": 3600}}

    def CreateRole(self, p, svc):
        name = self.need(p, "RoleName")
        if name in self.st.res["role"]:
            raise ApiError(409, "EntityAlreadyExists.Role", f"The role already exists: {name}.")
        role = {"RoleName": name, "RoleId": "3" + "".join(random.choice(string.digits) for _ in range(17)),
                "Arn": f"acs:ram::{OWNER_ID}:role/{name.lower()}",
                "AssumeRolePolicyDocument": p.get("AssumeRolePolicyDocument", ""), "policies": [], "_next": []}
        self.st.res["role"][name] = role
        return {"Role": {k: role[k] for k in ("RoleName", "RoleId", "Arn", "AssumeRolePolicyDocument")}}

    def ListPoliciesForRole(self, p, svc):
        role = self.st.res["role"].get(self.need(p, "RoleName"))
        if role is None:
            raise ApiError(404, "EntityNotExist.Role", f"The role not exists: {p['RoleName']}.")
        return {"Policies": {"Policy": [{"PolicyName": n, "PolicyType": "System", "DefaultVersion": "v1",
                                          "Description": "", "AttachDate": "2020-01-01T00:00:00Z"}
                                         for n in role["policies"]]}}

    def AttachPolicyToRole(self, p, svc):
        role = self.st.res["role"].get(self.need(p, "RoleName"))
        if role is None:
            raise ApiError(404, "EntityNotExist.Role", f"The role not exists: {p['RoleName']}.")
        name = self.need(p, "PolicyName")
        if name in role["policies"]:
            raise ApiError(409, "EntityAlreadyExists.Role.Policy", "The policy is already attached to the role.")
        role["policies"].append(name)
        return {}

    def UpdateRole(self, p, svc):
        role = self.st.res["role"].get(self.need(p, "RoleName"))
        if role is None:
            raise ApiError(404, "EntityNotExist.Role", f"The role not exists: {p['RoleName']}.")
        if p.get("NewAssumeRolePolicyDocument"):
            role["AssumeRolePolicyDocument"] = p["NewAssumeRolePolicyDocument"]
        return {"Role": {k: role[k] for k in ("RoleName", "RoleId", "Arn", "AssumeRolePolicyDocument")}}

    def GetCallerIdentity(self, p, svc):
        return {"AccountId": OWNER_ID, "UserId": OWNER_ID, "Arn": f"acs:ram::{OWNER_ID}:root", "IdentityType": "Account",
                "PrincipalId": OWNER_ID}


# Which actions each service answers (ECS 2014-05-26 also had the VPC/EIP ones).
VPC_ACTIONS = {
    "DescribeRegions", "DescribeZones", "CreateVpc", "DescribeVpcs", "DeleteVpc", "CreateVSwitch",
    "DescribeVSwitches", "DeleteVSwitch", "AllocateEipAddress", "DescribeEipAddresses", "AssociateEipAddress",
    "UnassociateEipAddress", "ReleaseEipAddress", "TagResources", "UntagResources", "ListTagResources",
}
RAM_ACTIONS = {"GetRole", "CreateRole", "UpdateRole", "ListPoliciesForRole", "AttachPolicyToRole"}
STS_ACTIONS = {"GetCallerIdentity"}
LOCATION_ACTIONS = {"DescribeEndpoints"}
ECS_ACTIONS = {
    name for name in dir(Api)
    if name[0].isupper() and name not in RAM_ACTIONS | STS_ACTIONS | LOCATION_ACTIONS and name != "KIND_OF"
}
SERVICE_ACTIONS = {"ecs": ECS_ACTIONS, "vpc": VPC_ACTIONS, "ram": RAM_ACTIONS, "sts": STS_ACTIONS,
                   "location": LOCATION_ACTIONS}
SERVICE_VERSIONS = {"ecs": ECS_VERSION, "vpc": VPC_VERSION, "ram": RAM_VERSION, "sts": STS_VERSION,
                    "location": LOCATION_VERSION}
VERSION_SERVICE = {v: k for k, v in SERVICE_VERSIONS.items()}
ID_KEYS = ("InstanceId", "InstanceIds", "ImageId", "VpcId", "VSwitchId", "SecurityGroupId", "AllocationId",
           "KeyPairName", "KeyPairNames", "SnapshotId", "SnapshotIds", "DestinationRegionId", "ResourceId",
           "ResourceId.1", "RoleName")
METADATA_CREDENTIALS = "/latest/meta-data/ram/security-credentials/"
COMMON_PARAMS = {"Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp",
                 "AccessKeyId", "Format", "Version", "Action", "RegionId"}
SECRET_PARAMS = {"Password", "UserData", "SecurityToken"}
RESPONSE_ID_KEYS = ("InstanceId", "ImageId", "VpcId", "VSwitchId", "SecurityGroupId", "AllocationId", "KeyPairName", "TaskId")


# ---------------------------------------------------------------- HTTP


class Handler(fake_server.Handler):
    # Headers and body go out in two writes: with Nagle on, a kept-alive
    # connection's body waits for the client's delayed ACK (~40 ms a
    # request), a cost Alibaba's endpoints do not have.
    disable_nagle_algorithm = True
    server_version = "Tengine"
    content_type = "application/json;charset=utf-8"
    log_name = "alicloud-fake"
    delays = (DELAYS, REGIONS)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = lambda self: self._dispatch()

    def _service_from_host(self):
        h = self._host()
        if h.endswith(".aliyuncs.com"):
            first = h.split(".")[0]
            if ".oss-" in h or first.startswith("oss-"):
                return "oss"
            for s in ("ecs", "vpc", "ram", "sts", "location"):
                if first == s or first.startswith(s + "-"):
                    return s
        return None

    def _dispatch(self):
        try:
            url = urlsplit(self.path)
            if url.path.startswith("/_fake/"):
                return self._admin(url)
            if url.path.startswith(METADATA_CREDENTIALS):
                return self._metadata(url.path[len(METADATA_CREDENTIALS):])
            body = self._body()
            svc = self._service_from_host()
            auth = self.headers.get("Authorization") or ""
            if svc == "oss" or auth.startswith("OSS "):
                return Oss(self).handle(url, body)
            self._rpc(url, body, svc)
        except BrokenPipeError:
            pass

    def _metadata(self, role):
        """The ECS metadata service's RAM role credentials (what an instance
        with that role attached reads at 100.100.100.200): a role the fake's
        RAM holds gets the first accepted key and an STS token; the list
        (`…/security-credentials/`) names every role."""
        self._body()
        with self.st.lock:
            roles = sorted(self.st.res["role"])
        if not role:
            return self._send(200, "\n".join(roles), ctype="text/plain")
        if role not in roles:
            return self._send(404, "<html><body>404 Not Found</body></html>", ctype="text/html")
        ak, sk = next(iter(self.st.cfg.keys.items()))
        expiration = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        return self._json(200, {"AccessKeyId": ak, "AccessKeySecret": sk, "SecurityToken": f"fake-sts-token-{role}",
                                "Expiration": expiration, "LastUpdated": iso_secs(), "Code": "Success"})

    # Admin ------------------------------------------------------------------
    def resources_view(self):
        return resources_view(self.st)

    def authorized_keys(self, everything):
        # The key pairs attached to running instances.
        st = self.st
        return [(k["PublicKey"], name) for (r, name), k in st.res["key_pair"].items()
                if everything or any(i.get("KeyPairName") == name and i["RegionId"] == r and i["Status"] == "Running"
                                     for i in st.res["instance"].values())]

    # RPC --------------------------------------------------------------------
    def _error(self, e, host, action="", svc="", params=None, sig=""):
        rid = str(uuid.uuid4()).upper()
        # Logged before the reply goes out: the client's next request must
        # not be logged before this one.
        self._record(svc, action, params or {}, e.status, e.code, {}, sig)
        self._json(e.status, {
            "RequestId": rid, "HostId": host, "Code": e.code, "Message": e.message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={e.code}&product={(svc or 'ecs').capitalize()}&requestId={rid}",
        }, headers={"x-acs-request-id": rid})

    def _record(self, svc, action, params, status, code, resp, sig):
        """Logs one request: action, region (for Location: the region asked
        about), status, error code, the resource ids it named or made."""
        ids = {k: params[k] for k in ID_KEYS if params.get(k)}
        region = params.get("Id", "") if svc == "location" else params.get("RegionId", "")
        for k in RESPONSE_ID_KEYS:
            if isinstance(resp, dict) and resp.get(k) and k not in ids:
                ids[k] = resp[k]
        with self.st.lock:
            self.st.seq += 1
            self.st.log.append({
                "seq": self.st.seq, "time": iso_secs(), "service": svc, "action": action,
                "region": region, "status": status, "code": code, "ids": ids,
                "signature": sig, "host": self._host(), "scheme": self._scheme(),
                "params": {k: ("***" if k in SECRET_PARAMS and v else v)
                           for k, v in params.items() if k not in COMMON_PARAMS},
            })

    def _rpc(self, url, body, svc):
        host = self._host() or "ecs.aliyuncs.com"
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        ctype = (self.headers.get("Content-Type") or "").lower()
        if body and "application/x-www-form-urlencoded" in ctype:
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        auth = headers.get("authorization", "")
        action = params.get("Action") or headers.get("x-acs-action", "")
        version = params.get("Version") or headers.get("x-acs-version", "")
        svc = svc or VERSION_SERVICE.get(version, "ecs")
        sig = "acs3" if auth.startswith("ACS3-") else "v1"
        try:
            if sig == "acs3":
                self._check_acs3(url, body, headers, auth)
            else:
                self._check_v1(params)
            if not action:
                raise ApiError(400, "MissingParameter", "The input parameter `Action` that is mandatory for processing this request is not supplied.")
            if version != SERVICE_VERSIONS[svc]:
                raise ApiError(400, "InvalidVersion", f"Specified parameter Version `{version}` is not valid.")
            if action not in SERVICE_ACTIONS[svc]:
                raise ApiError(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
            with self.st.lock:
                self.st.settle()
                out = getattr(self.api, action)(params, svc)
        except ApiError as e:
            return self._error(e, host, action, svc, params, sig)
        rid = str(uuid.uuid4()).upper()
        resp = {"RequestId": rid}
        resp.update(out)
        self._record(svc, action, params, 200, None, out, sig)
        self._json(200, resp, headers={"x-acs-request-id": rid})

    def _secret(self, ak):
        secret = self.st.cfg.keys.get(ak)
        if secret is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        return secret

    def _fresh(self, stamp, nonce, ak):
        """Timestamp within 15 minutes; nonce never seen (kept 15 minutes)."""
        try:
            t = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()
        except (TypeError, ValueError):
            raise ApiError(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
        now = time.time()
        if abs(now - t) > MAX_SKEW:
            raise ApiError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if not nonce:
            raise ApiError(400, "MissingSignatureNonce", "SignatureNonce is mandatory for this action.")
        with self.st.lock:
            for k, seen in list(self.st.nonces.items()):
                if now - seen > 2 * MAX_SKEW:
                    del self.st.nonces[k]
            if (ak, nonce) in self.st.nonces:
                raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self.st.nonces[(ak, nonce)] = now

    def _check_v1(self, params):
        for k in ("AccessKeyId", "Signature", "Timestamp", "SignatureMethod", "SignatureVersion"):
            if not params.get(k):
                raise ApiError(400, f"Missing{k}", f"{k} is mandatory for this action.")
        secret = self._secret(params["AccessKeyId"])
        if params["SignatureMethod"] != "HMAC-SHA1":
            raise ApiError(400, "InvalidSignatureMethod", f"Specified signature method `{params['SignatureMethod']}` is not valid.")
        if params["SignatureVersion"] != "1.0":
            raise ApiError(400, "UnsupportedSignatureVersion", f"Specified signature version `{params['SignatureVersion']}` is not valid.")
        want, sts = rpc_v1_signature(secret, self.command, params)
        if not hmac.compare_digest(want, params["Signature"]):
            raise ApiError(400, "SignatureDoesNotMatch",
                           f"Specified signature is not matched with our calculation. server string to sign is:{sts}")
        self._fresh(params["Timestamp"], params.get("SignatureNonce"), params["AccessKeyId"])

    def _check_acs3(self, url, body, headers, auth):
        algo, _, rest = auth.partition(" ")
        if algo != "ACS3-HMAC-SHA256":
            raise ApiError(400, "InvalidSignatureMethod", f"Specified signature method `{algo}` is not valid.")
        fields = dict(x.strip().split("=", 1) for x in rest.split(",") if "=" in x)
        ak = fields.get("Credential", "")
        signed = [h for h in fields.get("SignedHeaders", "").split(";") if h]
        secret = self._secret(ak)
        for h in ("host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"):
            if h not in headers:
                raise ApiError(400, "MissingParameter", f"The header `{h}` that is mandatory for processing this request is not supplied.")
            if h != "x-acs-content-sha256" and h not in signed:
                raise ApiError(400, "SignatureDoesNotMatch", f"The header `{h}` must be signed.")
        if hashlib.sha256(body).hexdigest() != headers["x-acs-content-sha256"]:
            raise ApiError(400, "ContentSHA256NotMatch", "The x-acs-content-sha256 header does not match the request body.")
        query = parse_qsl(url.query, keep_blank_values=True)
        want, sts = acs3_signature(secret, self.command, unquote(url.path or "/"), query, headers, signed,
                                   headers["x-acs-content-sha256"])
        if not hmac.compare_digest(want, fields.get("Signature", "")):
            raise ApiError(400, "SignatureDoesNotMatch",
                           f"The request signature does not conform to Aliyun standards. server string to sign is:{sts}")
        self._fresh(headers["x-acs-date"], headers["x-acs-signature-nonce"], ak)


# ---------------------------------------------------------------- OSS


class Oss:
    """Buckets and objects, path or virtual-host style, header signature v1."""

    def __init__(self, h):
        self.h = h
        self.st = h.st

    def error(self, status, code, message, **extra):
        rid = uuid.uuid4().hex.upper()[:24]
        xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n"
               f"  <Code>{code}</Code>\n  <Message>{message}</Message>\n  <RequestId>{rid}</RequestId>\n"
               f"  <HostId>{self.h._host()}</HostId>\n"
               + "".join(f"  <{k}>{v}</{k}>\n" for k, v in extra.items())
               + f"  <EC>0000-00000000</EC>\n  <RecommendDoc>https://api.aliyun.com/troubleshoot?q={code}</RecommendDoc>\n</Error>\n")
        self.h._send(status, xml, ctype="application/xml", headers={"x-oss-request-id": rid})
        return code

    def ok(self, body=b"", ctype="application/xml", headers=None, status=200):
        rid = uuid.uuid4().hex.upper()[:24]
        hdrs = {"x-oss-request-id": rid}
        hdrs.update(headers or {})
        self.h._send(status, body, ctype=ctype, headers=hdrs)

    def handle(self, url, body):
        h = self.h
        host = h._host()
        bucket, key = "", unquote(url.path.lstrip("/"))
        region = "cn-hangzhou"
        if ".oss-" in host:
            bucket = host.split(".oss-")[0]
            region = host.split(".oss-")[1].split(".")[0].replace("-internal", "")
        elif host.startswith("oss-"):
            region = host[4:].split(".")[0].replace("-internal", "")
            if key:
                bucket, _, key = key.partition("/")
        elif key:
            bucket, _, key = key.partition("/")
        query = parse_qsl(url.query, keep_blank_values=True)
        q = dict(query)
        action = self.action_name(bucket, key, q)
        code = None
        with self.st.lock:
            self.st.settle()
            try:
                self.check_sig(bucket, key, query)
                code = self.run(action, bucket, key, q, body, region)
            except ApiError as e:
                code = self.error(e.status, e.code, e.message)
            ids = {"Bucket": bucket} if bucket else {}
            if key:
                ids["Key"] = key
            self.st.seq += 1
            self.st.log.append({"seq": self.st.seq, "time": iso_secs(), "service": "oss", "action": action,
                                "region": region, "status": 200 if code is None else 400, "code": code,
                                "ids": ids, "signature": "oss", "host": host, "scheme": self.h._scheme(),
                                "params": q})

    def action_name(self, bucket, key, q):
        m = self.h.command
        if not bucket:
            return "ListBuckets"
        if not key:
            if "bucketInfo" in q:
                return "GetBucketInfo"
            if "location" in q:
                return "GetBucketLocation"
            if "tagging" in q:
                return {"PUT": "PutBucketTags", "GET": "GetBucketTags", "DELETE": "DeleteBucketTags"}.get(m, m)
            return {"PUT": "PutBucket", "DELETE": "DeleteBucket", "GET": "ListObjects", "HEAD": "GetBucketInfo"}.get(m, m)
        if "tagging" in q:
            return {"PUT": "PutObjectTagging", "GET": "GetObjectTagging", "DELETE": "DeleteObjectTagging"}.get(m, m)
        if "uploads" in q and m == "POST":
            return "InitiateMultipartUpload"
        if "uploadId" in q:
            if m == "PUT":
                return "UploadPart"
            if m == "POST":
                return "CompleteMultipartUpload"
            if m == "DELETE":
                return "AbortMultipartUpload"
            return "ListParts"
        return {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(m, m)

    def tagging(self):
        """The object tags of `x-oss-tagging` (`k=v&k2=v2`, URL-encoded)."""
        return dict(parse_qsl(self.h.headers.get("x-oss-tagging") or "", keep_blank_values=True))

    def check_sig(self, bucket, key, query):
        auth = self.h.headers.get("Authorization") or ""
        if not auth.startswith("OSS "):
            raise ApiError(403, "AccessDenied", "AccessDenied: anonymous access is not allowed by this fake.")
        ak, _, got = auth[4:].partition(":")
        secret = self.st.cfg.keys.get(ak)
        if secret is None:
            raise ApiError(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records.")
        sts = oss_string_to_sign(self.h.command, dict(self.h.headers.items()), bucket, key, query)
        want = base64.b64encode(hmac.new(secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(want, got):
            raise ApiError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
        date = self.h.headers.get("x-oss-date") or self.h.headers.get("Date") or ""
        try:
            t = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            raise ApiError(403, "AccessDenied", "Invalid date format.")
        if abs(time.time() - t) > MAX_SKEW:
            raise ApiError(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.")

    def run(self, action, bucket, key, q, body, region):
        res = self.st.res
        if action == "ListBuckets":
            items = "".join(f"<Bucket><Name>{n}</Name><Location>oss-{b['Region']}</Location><Region>{b['Region']}</Region>"
                            f"<CreationDate>{b['CreationDate']}</CreationDate><StorageClass>Standard</StorageClass></Bucket>"
                            for n, b in sorted(res["bucket"].items()))
            return self.ok(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListAllMyBucketsResult><Owner><ID>{OWNER_ID}</ID>"
                           f"<DisplayName>{OWNER_ID}</DisplayName></Owner><Buckets>{items}</Buckets></ListAllMyBucketsResult>")
        b = res["bucket"].get(bucket)
        if action == "PutBucket":
            if b is not None:
                if b["Region"] == region:
                    return self.ok()
                raise ApiError(409, "BucketAlreadyExists", "The requested bucket name is not available.")
            res["bucket"][bucket] = {"Name": bucket, "Region": region, "CreationDate": iso_secs().replace("Z", ".000Z"), "_next": []}
            return self.ok(headers={"Location": f"/{bucket}"})
        if b is None:
            raise ApiError(404, "NoSuchBucket", "The specified bucket does not exist.")
        if b["Region"] != region:
            raise ApiError(403, "AccessDenied", f"The bucket you are attempting to access must be addressed using the specified endpoint oss-{b['Region']}.aliyuncs.com.")
        if action == "DeleteBucket":
            if any(bk == bucket for bk, _ in res["object"]):
                raise ApiError(409, "BucketNotEmpty", "The bucket you tried to delete is not empty.")
            del res["bucket"][bucket]
            return self.ok(status=204)
        if action == "PutBucketTags":
            tags = re.findall(r"<Tag>\s*<Key>(.*?)</Key>\s*<Value>(.*?)</Value>\s*</Tag>", body.decode("utf-8", "replace"), re.S)
            if not tags and b"<Tagging>" not in body:
                raise ApiError(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema.")
            if len(tags) > 20:
                raise ApiError(400, "InvalidTagging", "The number of tags is larger than 20.")
            b["Tags"] = dict(tags)
            return self.ok()
        if action == "GetBucketTags":
            items = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in sorted(b.get("Tags", {}).items()))
            return self.ok(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Tagging><TagSet>{items}</TagSet></Tagging>")
        if action == "DeleteBucketTags":
            b["Tags"] = {}
            return self.ok(status=204)
        if action in ("GetBucketInfo", "GetBucketLocation"):
            if action == "GetBucketLocation":
                return self.ok(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><LocationConstraint>oss-{region}</LocationConstraint>")
            return self.ok(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><BucketInfo><Bucket><Name>{bucket}</Name>"
                           f"<Location>oss-{region}</Location><Region>{region}</Region><CreationDate>{b['CreationDate']}</CreationDate>"
                           f"<ExtranetEndpoint>oss-{region}.aliyuncs.com</ExtranetEndpoint><IntranetEndpoint>oss-{region}-internal.aliyuncs.com</IntranetEndpoint>"
                           f"<StorageClass>Standard</StorageClass><Owner><ID>{OWNER_ID}</ID><DisplayName>{OWNER_ID}</DisplayName></Owner>"
                           f"<AccessControlList><Grant>private</Grant></AccessControlList></Bucket></BucketInfo>")
        if action == "ListObjects":
            prefix = q.get("prefix", "")
            items = "".join(f"<Contents><Key>{k}</Key><LastModified>{o['LastModified']}</LastModified><ETag>\"{o['ETag']}\"</ETag>"
                            f"<Type>Normal</Type><Size>{len(o['Data'])}</Size><StorageClass>Standard</StorageClass></Contents>"
                            for (bk, k), o in sorted(res["object"].items()) if bk == bucket and k.startswith(prefix))
            return self.ok(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>{bucket}</Name><Prefix>{prefix}</Prefix>"
                           f"<Marker></Marker><MaxKeys>100</MaxKeys><Delimiter></Delimiter><IsTruncated>false</IsTruncated>{items}</ListBucketResult>")
        if action == "PutObject":
            md5 = self.h.headers.get("Content-MD5")
            if md5 and base64.b64encode(hashlib.md5(body).digest()).decode() != md5:
                raise ApiError(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
            etag = hashlib.md5(body).hexdigest().upper()
            res["object"][(bucket, key)] = {"Data": body, "ETag": etag, "LastModified": iso_secs().replace("Z", ".000Z"),
                                            "ContentType": self.h.headers.get("Content-Type", "application/octet-stream"),
                                            "Tags": self.tagging(), "_next": []}
            return self.ok(headers={"ETag": f"\"{etag}\"", "x-oss-hash-crc64ecma": str(crc64(body))})
        if action in ("GetObject", "HeadObject"):
            o = res["object"].get((bucket, key))
            if o is None:
                raise ApiError(404, "NoSuchKey", "The specified key does not exist.")
            hdrs = {"ETag": f"\"{o['ETag']}\"", "Last-Modified": email.utils.formatdate(usegmt=True),
                    "x-oss-object-type": "Normal", "x-oss-hash-crc64ecma": str(crc64(o["Data"])),
                    "x-oss-storage-class": "Standard"}
            if action == "HeadObject":
                self.h.send_response(200)
                self.h.send_header("Content-Length", str(len(o["Data"])))
                self.h.send_header("Content-Type", o["ContentType"])
                for k, v in hdrs.items():
                    self.h.send_header(k, v)
                self.h.end_headers()
                return None
            return self.ok(o["Data"], ctype=o["ContentType"], headers=hdrs)
        if action in ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"):
            o = res["object"].get((bucket, key))
            if o is None:
                raise ApiError(404, "NoSuchKey", "The specified key does not exist.")
            if action == "DeleteObjectTagging":
                o["Tags"] = {}
                return self.ok(status=204)
            if action == "PutObjectTagging":
                pairs = re.findall(r"<Tag>\s*<Key>(.*?)</Key>\s*<Value>(.*?)</Value>\s*</Tag>", body.decode())
                o["Tags"] = dict(pairs)
                return self.ok()
            tags = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in o.get("Tags", {}).items())
            return self.ok(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Tagging><TagSet>{tags}</TagSet></Tagging>")
        if action == "DeleteObject":
            res["object"].pop((bucket, key), None)
            return self.ok(status=204)
        if action == "InitiateMultipartUpload":
            uid = uuid.uuid4().hex.upper()
            res["multipart"][uid] = {"Bucket": bucket, "Key": key, "parts": {}, "Initiated": iso_secs(),
                                     "Tags": self.tagging(), "_next": []}
            return self.ok(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><InitiateMultipartUploadResult><Bucket>{bucket}</Bucket>"
                           f"<Key>{key}</Key><UploadId>{uid}</UploadId></InitiateMultipartUploadResult>")
        up = res["multipart"].get(q.get("uploadId", ""))
        if up is None or up["Bucket"] != bucket or up["Key"] != key:
            raise ApiError(404, "NoSuchUpload", "The specified upload does not exist.")
        if action == "UploadPart":
            n = int(q.get("partNumber", "0"))
            if not 1 <= n <= 10000:
                raise ApiError(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive.")
            etag = hashlib.md5(body).hexdigest().upper()
            up["parts"][n] = (body, etag)
            return self.ok(headers={"ETag": f"\"{etag}\"", "x-oss-hash-crc64ecma": str(crc64(body))})
        if action == "AbortMultipartUpload":
            del res["multipart"][q["uploadId"]]
            return self.ok(status=204)
        if action == "ListParts":
            parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>\"{e}\"</ETag><Size>{len(d)}</Size></Part>"
                            for n, (d, e) in sorted(up["parts"].items()))
            return self.ok(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListPartsResult><Bucket>{bucket}</Bucket><Key>{key}</Key>"
                           f"<UploadId>{q['uploadId']}</UploadId><IsTruncated>false</IsTruncated>{parts}</ListPartsResult>")
        if action == "CompleteMultipartUpload":
            listed = [int(n) for n in re.findall(r"<PartNumber>(\d+)</PartNumber>", body.decode())]
            if not listed and self.h.headers.get("x-oss-complete-all") == "yes":
                listed = sorted(up["parts"])
            for n in listed:
                if n not in up["parts"]:
                    raise ApiError(400, "InvalidPart", "One or more of the specified parts could not be found.")
            data = b"".join(up["parts"][n][0] for n in listed)
            etag = hashlib.md5(data).hexdigest().upper() + f"-{len(listed)}"
            res["object"][(bucket, key)] = {"Data": data, "ETag": etag, "LastModified": iso_secs().replace("Z", ".000Z"),
                                            "ContentType": "application/octet-stream", "Tags": up["Tags"], "_next": []}
            del res["multipart"][q["uploadId"]]
            return self.ok(f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUploadResult><Location>{bucket}/{key}</Location>"
                           f"<Bucket>{bucket}</Bucket><Key>{key}</Key><ETag>\"{etag}\"</ETag></CompleteMultipartUploadResult>",
                           headers={"x-oss-hash-crc64ecma": str(crc64(data))})
        raise ApiError(400, "NotImplemented", f"The fake does not implement `{action}`.")


_CRC64_TABLE = []


def crc64(data):
    """CRC-64/XZ (ECMA-182), as OSS's x-oss-hash-crc64ecma."""
    if not _CRC64_TABLE:
        poly = 0xC96C5795D7870F42
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ poly if c & 1 else c >> 1
            _CRC64_TABLE.append(c)
    crc = 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc = _CRC64_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


# ---------------------------------------------------------------- views


def resources_view(st):
    """Everything held, by kind, without the built-in public images."""
    out = {}
    for kind, table in st.res.items():
        rows = []
        for key, r in table.items():
            if kind == "image" and r.get("_public"):
                continue
            row = {k: v for k, v in r.items() if not k.startswith("_") and k not in ("Data", "parts", "PublicKey")}
            if kind == "object":
                row = {"Bucket": key[0], "Key": key[1], "Size": len(r["Data"]), "ETag": r["ETag"], "Tags": r.get("Tags", {})}
            if kind == "multipart":
                row = {"UploadId": key, "Bucket": r["Bucket"], "Key": r["Key"], "Parts": sorted(r["parts"])}
            if kind == "image":
                row["Progress"] = Api(st).image_view(r)["Progress"]
            rows.append(row)
        out[kind] = rows
    return out


# ---------------------------------------------------------------- TLS


def endpoint_hosts(regions):
    hosts = ["localhost", "ecs.aliyuncs.com", "vpc.aliyuncs.com", "ram.aliyuncs.com", "sts.aliyuncs.com",
             "location.aliyuncs.com", "location-readonly.aliyuncs.com", "ecs-cn-hangzhou.aliyuncs.com",
             "oss.aliyuncs.com"]
    for r in regions:
        hosts += [f"ecs.{r}.aliyuncs.com", f"ecs-{r}.aliyuncs.com", f"vpc.{r}.aliyuncs.com", f"vpc-{r}.aliyuncs.com",
                  f"sts.{r}.aliyuncs.com", f"oss-{r}.aliyuncs.com", f"*.oss-{r}.aliyuncs.com",
                  f"oss-{r}-internal.aliyuncs.com", f"*.oss-{r}-internal.aliyuncs.com"]
    return hosts


# ---------------------------------------------------------------- main


class Config(fake_server.Config):
    def __init__(self, a):
        super().__init__(a, fake_server.parse_keys("ALICLOUD_FAKE_KEYS", "LTAIfakeaccesskey",
                                                   os.environ.get("ALICLOUD_FAKE_SECRET", "fakesecretkey")))
        self.import_role = not a.no_import_role


def main():
    fake_server.main(
        "alicloud", "A FAKE Alibaba Cloud API (ECS, VPC, OSS, RAM) for tests, on loopback.", Handler,
        lambda a: State(Config(a)), Api, endpoint_hosts(REGIONS), "kiln FAKE Alibaba Cloud CA", "aliyuncs.com",
        more_arguments=lambda ap: ap.add_argument("--no-import-role", action="store_true",
                                                  help=f"start without the RAM role {IMPORT_ROLE}"))


if __name__ == "__main__":
    main()
