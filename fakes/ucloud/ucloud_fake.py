#!/usr/bin/env python3
"""A FAKE UCloud API server for kiln's tests (not UCloud's code).

It answers the UCloud OpenAPI actions that the `ucloud-uhost` builder of
UCloud's Packer plugin, the `ucloud-import` post-processor and UCloud's own
SDKs call (UHost, VPC, UNet, UAccount; `POST /` with a form body, or `GET
/?…`), plus a small UFile (US3) object store, on loopback only, over plain
HTTP. Requests are signed and checked as UCloud checks them: the API's
SHA1 over the sorted parameters and the private key (`Signature`), UFile's
`Authorization: UCloud <public key>:<base64 HMAC-SHA1>` token. Errors are
UCloud's bodies, `{"RetCode": n, "Action": "<Action>Response", "Message"}`
with HTTP 200.

Resources move through UCloud's states (UHosts Initializing -> Starting ->
Running -> Stopping -> Stopped, images Making -> Available, copies Copying
-> Available) after realistic delays multiplied by a time scale
(`--time-scale 0.01` makes a 60 s image take 0.6 s). Each zone offers its
own boot disk types (`DescribeAvailableInstanceTypes`), and `DescribeImage`
answers 20 images a page unless `Limit` says otherwise.

Admin endpoints (not UCloud's): GET /_fake/resources, GET /_fake/requests,
POST /_fake/reset, GET|POST /_fake/config, POST /_fake/fail (inject
RetCodes), POST /_fake/seed_images, GET /_fake/delays.

Run `ucloud_fake.py --help`; README.md beside this file says more.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from urllib.parse import parse_qsl, unquote, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared"))
import fake_server  # noqa: E402  (fakes/shared: what every fake does alike)

# ---------------------------------------------------------------- catalogue

# Region -> zone -> the boot disk types the zone offers.
ZONES = {
    "cn-bj2": {
        "cn-bj2-02": ["CLOUD_SSD", "LOCAL_NORMAL", "LOCAL_SSD"],
        "cn-bj2-03": ["CLOUD_SSD", "CLOUD_RSSD"],
        "cn-bj2-04": ["LOCAL_NORMAL", "CLOUD_RSSD"],
        "cn-bj2-05": ["CLOUD_SSD", "CLOUD_RSSD", "LOCAL_NORMAL"],
    },
    "cn-sh2": {"cn-sh2-01": ["CLOUD_SSD", "LOCAL_NORMAL"], "cn-sh2-02": ["CLOUD_SSD", "CLOUD_RSSD"]},
    "cn-gd": {"cn-gd-02": ["CLOUD_SSD", "LOCAL_NORMAL"]},
    "hk": {"hk-02": ["CLOUD_SSD", "LOCAL_NORMAL"]},
    "us-ca": {"us-ca-01": ["CLOUD_SSD", "LOCAL_NORMAL"]},
    "us-ws": {"us-ws-01": ["CLOUD_SSD"]},
    "tw-tp": {"tw-tp-01": ["CLOUD_SSD"]},
    "jpn-tky": {"jpn-tky-01": ["CLOUD_SSD"]},
    "kr-seoul": {"kr-seoul-01": ["CLOUD_SSD"]},
    "sg": {"sg-02": ["CLOUD_SSD", "LOCAL_NORMAL"]},
    "th-bkk": {"th-bkk-01": ["CLOUD_SSD"]},
    "vn-sng": {"vn-sng-01": ["CLOUD_SSD"]},
    "idn-jakarta": {"idn-jakarta-01": ["CLOUD_SSD"]},
    "ind-mumbai": {"ind-mumbai-01": ["CLOUD_SSD"]},
    "ge-fra": {"ge-fra-01": ["CLOUD_SSD"]},
    "uk-london": {"uk-london-01": ["CLOUD_SSD"]},
    "rus-mosc": {"rus-mosc-01": ["CLOUD_SSD"]},
    "uae-dubai": {"uae-dubai-01": ["CLOUD_SSD"]},
    "bra-saopaulo": {"bra-saopaulo-01": ["CLOUD_SSD"]},
    "afr-nigeria": {"afr-nigeria-01": ["CLOUD_SSD"]},
    "ph-mnl": {"ph-mnl-01": ["CLOUD_SSD"]},
}
PROJECTS = {"org-kiln": "kiln", "org-copy": "kiln-copies"}
DEFAULT_PROJECT = "org-kiln"
# Base images in every region: 45 of them, so that the ones past the first
# 20 are only found by a client that pages. (id, OS name, OS type).
BASE_IMAGES = [(f"uimage-base{n:03d}", f"CentOS 7.{n % 10} 64位", "Linux") for n in range(40)] + [
    ("uimage-ubuntu2004", "Ubuntu 20.04 64位", "Linux"),
    ("uimage-debian10", "Debian 10.6 64位", "Linux"),
    ("uimage-centos79", "CentOS 7.9 64位", "Linux"),
    ("uimage-win2019", "Windows 2019 64位", "Windows"),
    ("uimage-nocloudinit", "CentOS 6.10 64位", "Linux"),
]
MACHINE_TYPES = ["N", "O", "C"]
# Realistic durations in seconds, multiplied by the time scale.
DELAYS = {
    "uhost_create": 5,
    "uhost_start": 15,
    "uhost_stop": 15,
    "uhost_terminate": 3,
    "local_disk_init": 30,
    "image_create": 60,
    "image_copy": 120,
    "image_import": 300,
}
SECRET_PARAMS = {"Password", "Signature"}
COMMON_PARAMS = {"PublicKey", "Signature", "Action"}
ID_KEYS = ["UHostId", "ImageId", "SourceImageId", "FWId", "EIPId", "TargetRegion", "TargetProjectId",
           "VPCIds.0", "SubnetIds.0", "UHostIds.0", "Zone"]
RESPONSE_ID_KEYS = ["ImageId", "TargetImageId"]

# RetCodes (UCloudDoc-Team/api `summary/public.md` and the plugin's
# `client.go`): 150 service unavailable, 153 throttled, 160 unknown
# action, 161 missing parameter, 170 signature, 171 unknown public key,
# 230 invalid parameter, 8039 UHost not found, 8011 image not found, 54002
# firewall not found, 58101 VPC not found, 58102 subnet not found.
E_UNAVAILABLE, E_THROTTLED, E_ACTION, E_MISSING, E_SIGNATURE, E_PUBKEY, E_PARAM = 150, 153, 160, 161, 170, 171, 230
E_UHOST_NOT_FOUND, E_IMAGE_NOT_FOUND, E_FIREWALL_NOT_FOUND = 8039, 8011, 54002
E_VPC_NOT_FOUND, E_SUBNET_NOT_FOUND, E_STATE, E_DISK_TYPE, E_REGION, E_PROJECT = 58101, 58102, 8010, 8020, 171, 172


class ApiError(Exception):
    """An error answered with UCloud's error body."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


rand_id = fake_server.rand_id


def sign(private_key, params):
    """UCloud's API signature: SHA1 of every `key + value`, keys sorted,
    then the private key (ucloud-sdk-python3 `verify_ac`)."""
    s = "".join(k + params[k] for k in sorted(params)) + private_key
    return hashlib.sha1(s.encode("utf-8")).hexdigest()


def ufile_string_to_sign(method, headers, bucket, key):
    """UFile's string to sign: method, Content-MD5, Content-Type, Date,
    the `X-UCloud-*` headers, `/bucket/key`."""
    h = {k.lower(): v for k, v in headers.items()}
    extra = sorted((k, v.strip()) for k, v in h.items() if k.startswith("x-ucloud-"))
    return "\n".join([method.upper(), h.get("content-md5", ""), h.get("content-type", ""), h.get("date", "")]) + "\n" + \
        "\n".join(f"{k}:{v}" for k, v in extra) + f"/{bucket}/{key}"


def listed(params, name):
    """`Name.0`, `Name.1`, ... (the SDKs' list encoding) in order."""
    out, i = [], 0
    while f"{name}.{i}" in params:
        out.append(params[f"{name}.{i}"])
        i += 1
    return out


def page(items, params, default_limit):
    try:
        offset = int(params.get("Offset") or 0)
        limit = int(params.get("Limit") or default_limit)
    except ValueError:
        raise ApiError(E_PARAM, "Params [Offset/Limit] not valid")
    return items[offset:offset + max(limit, 0)]


# ---------------------------------------------------------------- state


class Config(fake_server.Config):
    def __init__(self, a):
        super().__init__(a, fake_server.parse_keys("UCLOUD_FAKE_KEYS", "ucloudfakepublickey",
                                                   os.environ.get("UCLOUD_FAKE_PRIVATE_KEY", "fakeprivatekey")))
        self.verbose = a.verbose or bool(os.environ.get("UCLOUD_FAKE_VERBOSE"))


class State(fake_server.State):
    """Everything the fake holds; one lock guards it all."""

    def reset(self):
        self.log = []
        self.seq = 0
        self.faults = []
        self.res = {"uhost": {}, "image": {}, "eip": {}, "vpc": {}, "subnet": {}, "firewall": {},
                    "bucket": {}, "object": {}, "upload": {}}
        n = 0
        for project in PROJECTS:
            for region in ZONES:
                n += 1
                self._add("vpc", {"VPCId": f"uvnet-default{n}", "Name": "DefaultVPC", "Network": ["10.9.0.0/16"],
                                  "Region": region, "ProjectId": project, "Tag": "Default"})
                self._add("subnet", {"SubnetId": f"subnet-default{n}", "SubnetName": "DefaultNetwork",
                                     "VPCId": f"uvnet-default{n}", "Subnet": "10.9.0.0", "Netmask": "16",
                                     "Region": region, "ProjectId": project, "Tag": "Default"})
                for fw, name, kind in ((f"firewall-web{n}", "Web推荐", "recommend web"),
                                       (f"firewall-default{n}", "非Web推荐", "recommend non web")):
                    self._add("firewall", {"FWId": fw, "GroupId": str(n), "Name": name, "Type": kind, "Tag": "Default",
                                           "Region": region, "ProjectId": project, "Remark": "", "ResourceCount": 0,
                                           "Rule": [{"SrcIP": "0.0.0.0/0", "Priority": "HIGH", "ProtocolType": "TCP",
                                                     "DstPort": "22", "RuleAction": "ACCEPT"}]})
        # One user network and firewall in cn-bj2 of org-kiln, for the
        # tests that give `vpc_id`, `subnet_id` and `security_group_id`.
        self._add("vpc", {"VPCId": "uvnet-kiln", "Name": "kiln", "Network": ["172.16.0.0/16"], "Region": "cn-bj2",
                          "ProjectId": DEFAULT_PROJECT, "Tag": "Default"})
        self._add("subnet", {"SubnetId": "subnet-kiln", "SubnetName": "kiln", "VPCId": "uvnet-kiln",
                             "Subnet": "172.16.1.0", "Netmask": "24", "Region": "cn-bj2",
                             "ProjectId": DEFAULT_PROJECT, "Tag": "Default"})
        self._add("firewall", {"FWId": "firewall-kiln", "GroupId": "9999", "Name": "kiln", "Type": "user defined",
                               "Tag": "Default", "Region": "cn-bj2", "ProjectId": DEFAULT_PROJECT, "Remark": "",
                               "ResourceCount": 0, "Rule": []})

    def _add(self, kind, r):
        r.setdefault("_next", [])
        key = {"vpc": "VPCId", "subnet": "SubnetId", "firewall": "FWId"}.get(kind)
        self.res[kind][r[key] if key else rand_id(kind)] = r

    def delay(self, name):
        return DELAYS[name] * self.cfg.time_scale

    def later(self, res, seconds, **updates):
        """Schedules `updates` on `res` `seconds` from now (`_gone=True`
        drops it)."""
        self.at(res, seconds, updates)

    def base_images(self, region):
        return [{"ImageId": i, "ImageName": name, "ImageDescription": "", "ImageType": "Base", "OsType": os_type,
                 "OsName": name, "State": "Available", "ImageSize": 20 if os_type == "Linux" else 40,
                 "Features": [] if i == "uimage-nocloudinit" else ["NetEnhanced", "CloudInit"],
                 "FuncType": "base", "Zone": "", "Tag": "Default", "CreateTime": 1600000000, "Vendor": "CentOS",
                 "Region": region, "ProjectId": ""}
                for i, name, os_type in BASE_IMAGES]


def view(r):
    return {k: v for k, v in r.items() if not k.startswith("_")}


# ---------------------------------------------------------------- actions


class Api:
    """The UHost, VPC, UNet, UAccount and UFile bucket actions; each takes
    the request's parameters and returns the reply's fields."""

    def __init__(self, st):
        self.st = st

    def region(self, p):
        region = p.get("Region", "")
        if not region:
            raise ApiError(E_MISSING, "Missing params [Region]")
        if region not in ZONES:
            raise ApiError(E_PARAM, f"Params [Region] not available: {region}")
        return region

    def project(self, p, key="ProjectId"):
        project = p.get(key) or DEFAULT_PROJECT
        if project not in PROJECTS:
            raise ApiError(E_PROJECT, f"Project [{project}] not exists")
        return project

    def required(self, p, *keys):
        for k in keys:
            if p.get(k) in (None, ""):
                raise ApiError(E_MISSING, f"Missing params [{k}]")

    # UAccount ---------------------------------------------------------
    def GetProjectList(self, p):
        return {"ProjectCount": len(PROJECTS), "ProjectSet": [
            {"ProjectId": k, "ProjectName": v, "IsDefault": k == DEFAULT_PROJECT, "ParentId": "", "ParentName": "",
             "ResourceCount": 0, "MemberCount": 1, "CreateTime": 1500000000} for k, v in PROJECTS.items()]}

    def GetRegion(self, p):
        return {"Regions": [{"RegionId": i, "Region": r, "Zone": z, "IsDefault": r == "cn-bj2", "BitMaps": ""}
                            for i, (r, z) in enumerate((r, z) for r in ZONES for z in ZONES[r])]}

    # UHost: catalogue -------------------------------------------------
    def DescribeAvailableInstanceTypes(self, p):
        region = self.region(p)
        zone = p.get("Zone") or ""
        zones = [zone] if zone else list(ZONES[region])
        if zone and zone not in ZONES[region]:
            raise ApiError(E_PARAM, f"Params [Zone] not available: {zone}")
        out = []
        for z in zones:
            for m in MACHINE_TYPES:
                out.append({"Name": m, "Zone": z, "Status": "Normal", "MachineClass": "GENERAL",
                            "Disks": [{"Name": "Normal",
                                       "BootDisk": [{"Name": t, "MaximalSize": 500, "InstantResize": True,
                                                     "Features": []} for t in ZONES[region][z]],
                                       "DataDisk": [{"Name": t, "MinimalSize": 20, "MaximalSize": 8000,
                                                     "BackupMode": ["NONE"], "Features": []}
                                                    for t in ZONES[region][z]]}],
                            "MachineSizes": [{"Gpu": 0, "Collection": [{"Cpu": c, "Memory": [c, 2 * c, 4 * c, 8 * c]}
                                                                      for c in (1, 2, 4, 8, 16, 32)]}]})
        return {"AvailableInstanceTypes": out, "Status": ["Normal"]}

    # UHost: images ----------------------------------------------------
    def _images(self, region, project):
        own = [i for i in self.st.res["image"].values() if i["Region"] == region and i["ProjectId"] == project]
        return self.st.base_images(region) + sorted(own, key=lambda i: i["_seq"])

    def _custom(self, image_id, region, project):
        for i in self.st.res["image"].values():
            if i["ImageId"] == image_id and i["Region"] == region and i["ProjectId"] == project:
                return i
        raise ApiError(E_IMAGE_NOT_FOUND, f"Image [{image_id}] not exists")

    def DescribeImage(self, p):
        region, project = self.region(p), self.project(p)
        items = self._images(region, project)
        if p.get("ImageType"):
            items = [i for i in items if i["ImageType"] == p["ImageType"]]
        if p.get("OsType"):
            items = [i for i in items if i["OsType"] == p["OsType"]]
        ids = listed(p, "ImageIds") + ([p["ImageId"]] if p.get("ImageId") else [])
        if ids:
            items = [i for i in items if i["ImageId"] in ids]
        if p.get("Tag"):
            items = [i for i in items if i.get("Tag") == p["Tag"]]
        return {"TotalCount": len(items), "ImageSet": [view(i) for i in page(items, p, 20)]}

    def _new_image(self, region, project, name, description, state, os_type, os_name, size, tag, extra=None):
        self.st.seq += 1
        img = {"ImageId": rand_id("uimage-"), "ImageName": name, "ImageDescription": description or "",
               "ImageType": "Custom", "OsType": os_type, "OsName": os_name, "State": state, "ImageSize": size,
               "Features": ["NetEnhanced", "CloudInit"], "FuncType": "", "Zone": "", "Tag": tag or "Default",
               "CreateTime": int(time.time()), "Vendor": "", "Region": region, "ProjectId": project,
               "_seq": self.st.seq, "_next": []}
        img.update(extra or {})
        self.st.res["image"][img["ImageId"] + "@" + project + ":" + region] = img
        return img

    def CreateCustomImage(self, p):
        region, project = self.region(p), self.project(p)
        self.required(p, "UHostId", "ImageName")
        host = self._uhost(p["UHostId"], region, project)
        if host["State"] != "Stopped":
            raise ApiError(E_STATE, f"UHost [{host['UHostId']}] state [{host['State']}] not allowed, must be Stopped")
        src = next((i for i in self._images(region, project) if i["ImageId"] == host["ImageId"]), None)
        img = self._new_image(region, project, p["ImageName"], p.get("ImageDescription"), "Making",
                              host["OsType"], host["OsName"], (src or {}).get("ImageSize", 20), p.get("Tag"),
                              {"_source_uhost": host["UHostId"]})
        self.st.later(img, self.st.delay("image_create"), State="Available")
        return {"ImageId": img["ImageId"], "DataSnapshotIds": []}

    def CopyCustomImage(self, p):
        region, project = self.region(p), self.project(p)
        self.required(p, "SourceImageId", "TargetProjectId")
        target_project = self.project(p, "TargetProjectId")
        target_region = p.get("TargetRegion") or region
        if target_region not in ZONES:
            raise ApiError(E_PARAM, f"Params [TargetRegion] not available: {target_region}")
        src = self._custom(p["SourceImageId"], region, project)
        if src["State"] != "Available":
            raise ApiError(E_STATE, f"Image [{src['ImageId']}] state [{src['State']}] not allowed, must be Available")
        img = self._new_image(target_region, target_project, p.get("TargetImageName") or src["ImageName"],
                              p.get("TargetImageDescription"), "Copying", src["OsType"], src["OsName"],
                              src["ImageSize"], p.get("TargetImageTag"))
        self.st.later(img, self.st.delay("image_copy"), State="Available")
        return {"TargetImageId": img["ImageId"], "TaskId": rand_id("task-")}

    def TerminateCustomImage(self, p):
        region, project = self.region(p), self.project(p)
        self.required(p, "ImageId")
        img = self._custom(p["ImageId"], region, project)
        if img["State"] not in ("Available", "Unavailable"):
            raise ApiError(E_STATE, f"Image [{img['ImageId']}] state [{img['State']}] not allowed")
        for k, v in list(self.st.res["image"].items()):
            if v is img:
                del self.st.res["image"][k]
        return {"ImageId": img["ImageId"]}

    def ImportCustomImage(self, p):
        region, project = self.region(p), self.project(p)
        self.required(p, "ImageName", "UFileUrl", "OsType", "OsName", "Format", "Auth")
        if p["Format"] not in ("RAW", "VHD", "VMDK", "qcow2"):
            raise ApiError(E_PARAM, f"Params [Format] not valid: {p['Format']}")
        if p["OsType"] not in ("CentOS", "Ubuntu", "Windows", "RedHat", "Debian", "Other"):
            raise ApiError(E_PARAM, f"Params [OsType] not valid: {p['OsType']}")
        if p["Auth"] != "true":
            raise ApiError(E_PARAM, "Params [Auth] must be true")
        url = urlsplit(p["UFileUrl"])
        bucket = url.netloc.split(".")[0]
        key = unquote(url.path.lstrip("/"))
        if (bucket, key) not in self.st.res["object"]:
            raise ApiError(E_PARAM, f"Params [UFileUrl] not valid: no object `{key}` in bucket `{bucket}`")
        img = self._new_image(region, project, p["ImageName"], p.get("ImageDescription"), "Making",
                              "Windows" if p["OsType"] == "Windows" else "Linux", p["OsName"], 20, p.get("Tag"),
                              {"_source_url": p["UFileUrl"], "_format": p["Format"]})
        self.st.later(img, self.st.delay("image_import"), State="Available")
        return {"ImageId": img["ImageId"]}

    # UHost: instances -------------------------------------------------
    def _uhost(self, uhost_id, region, project):
        for h in self.st.res["uhost"].values():
            if h["UHostId"] == uhost_id and h["Region"] == region and h["ProjectId"] == project:
                return h
        raise ApiError(E_UHOST_NOT_FOUND, f"UHost [{uhost_id}] not exists")

    def _in(self, kind, key, rid, region, project, code, what):
        r = self.st.res[kind].get(rid)
        if not r or r["Region"] != region or r["ProjectId"] != project:
            raise ApiError(code, f"{what} [{rid}] not exists")
        return r

    def CreateUHostInstance(self, p):
        region, project = self.region(p), self.project(p)
        self.required(p, "Zone", "ImageId", "LoginMode")
        zone = p["Zone"]
        if zone not in ZONES[region]:
            raise ApiError(E_PARAM, f"Params [Zone] not available: {zone}")
        image = next((i for i in self._images(region, project) if i["ImageId"] == p["ImageId"]), None)
        if image is None:
            raise ApiError(E_IMAGE_NOT_FOUND, f"Image [{p['ImageId']}] not exists")
        if image["State"] != "Available":
            raise ApiError(E_STATE, f"Image [{image['ImageId']}] state [{image['State']}] not allowed")
        if p["LoginMode"] != "Password":
            raise ApiError(E_PARAM, f"Params [LoginMode] not valid: {p['LoginMode']}")
        try:
            password = base64.b64decode(p.get("Password", ""), validate=True).decode()
        except ValueError:
            raise ApiError(E_PARAM, "Params [Password] not valid: it must be base64-encoded")
        if not 8 <= len(password) <= 30:
            raise ApiError(E_PARAM, "Params [Password] not valid: 8 to 30 characters")
        machine = (p.get("MachineType") or "N").upper()
        if machine not in MACHINE_TYPES:
            raise ApiError(E_PARAM, f"Params [MachineType] not valid: {machine}")
        boot = p.get("Disks.0.Type", "CLOUD_SSD")
        if p.get("Disks.0.IsBoot", "true") != "true":
            raise ApiError(E_PARAM, "Params [Disks.0.IsBoot] must be true")
        if boot not in ZONES[region][zone]:
            raise ApiError(E_DISK_TYPE, f"Disk type [{boot}] is not supported as boot disk in zone [{zone}]")
        vpc = p.get("VPCId") or next(v["VPCId"] for v in self.st.res["vpc"].values()
                                     if v["Region"] == region and v["ProjectId"] == project and v["Name"] == "DefaultVPC")
        self._in("vpc", "VPCId", vpc, region, project, E_VPC_NOT_FOUND, "VPC")
        subnet = p.get("SubnetId") or next(s["SubnetId"] for s in self.st.res["subnet"].values() if s["VPCId"] == vpc)
        s = self._in("subnet", "SubnetId", subnet, region, project, E_SUBNET_NOT_FOUND, "Subnet")
        if s["VPCId"] != vpc:
            raise ApiError(E_PARAM, f"Subnet [{subnet}] is not in VPC [{vpc}]")
        fw = p.get("SecurityGroupId")
        if fw:
            self._in("firewall", "FWId", fw, region, project, E_FIREWALL_NOT_FOUND, "Firewall")
        uhost_id = rand_id("uhost-")
        n = len(self.st.res["uhost"]) + 2
        ips = [{"Type": "Private", "IP": self.st.cfg.private_ip or f"10.9.{n // 250}.{n % 250 + 2}",
                "VPCId": vpc, "SubnetId": subnet, "Default": "true", "Mac": "52:54:00:00:00:01"}]
        eip_id = None
        if p.get("NetworkInterface.0.EIP.Bandwidth") is not None or p.get("NetworkInterface.0.EIP.OperatorName"):
            operator = p.get("NetworkInterface.0.EIP.OperatorName", "Bgp")
            if operator not in ("Bgp", "International"):
                raise ApiError(E_PARAM, f"Params [NetworkInterface.0.EIP.OperatorName] not valid: {operator}")
            pay = p.get("NetworkInterface.0.EIP.PayMode", "Bandwidth")
            if pay not in ("Traffic", "Bandwidth", "PostAccurateBandwidth", "ShareBandwidth"):
                raise ApiError(E_PARAM, f"Params [NetworkInterface.0.EIP.PayMode] not valid: {pay}")
            eip_id = rand_id("eip-")
            bandwidth = int(p.get("NetworkInterface.0.EIP.Bandwidth") or 1)
            self.st.res["eip"][eip_id] = {"EIPId": eip_id, "Region": region, "ProjectId": project,
                                          "EIPAddr": [{"OperatorName": operator, "IP": self.st.cfg.public_ip}],
                                          "Bandwidth": bandwidth, "PayMode": pay, "Status": "used",
                                          "Resource": {"ResourceType": "uhost", "ResourceID": uhost_id}, "_next": []}
            ips.append({"Type": operator, "IP": self.st.cfg.public_ip, "IPId": eip_id, "Bandwidth": bandwidth,
                        "Default": "false"})
        local = boot.startswith("LOCAL")
        host = {"UHostId": uhost_id, "Name": p.get("Name") or "UHost", "Zone": zone, "Region": region,
                "ProjectId": project, "State": "Initializing", "ImageId": image["ImageId"],
                "BasicImageId": image["ImageId"], "BasicImageName": image["ImageName"], "OsType": image["OsType"],
                "OsName": image["OsName"], "CPU": int(p.get("CPU") or 1), "Memory": int(p.get("Memory") or 1024),
                "MachineType": machine, "ChargeType": p.get("ChargeType", "Month"),
                "Tag": p.get("Tag") or "Default", "Remark": p.get("Remark", ""),
                "BootDiskState": "Initializing" if local else "Normal", "IPSet": ips,
                "DiskSet": [{"DiskId": rand_id("bsi-") if not local else "", "DiskType": "Boot", "IsBoot": "True",
                             "Type": boot, "Size": int(p.get("Disks.0.Size") or image["ImageSize"]),
                             "Drive": "vda"}],
                "SecurityGroupId": fw or "", "CreateTime": int(time.time()), "_password": password,
                "_eip": eip_id, "_next": []}
        self.st.res["uhost"][uhost_id] = host
        self.st.later(host, self.st.delay("uhost_create"), State="Starting")
        self.st.later(host, self.st.delay("uhost_create") + self.st.delay("uhost_start"), State="Running")
        if local:
            self.st.later(host, self.st.delay("local_disk_init"), BootDiskState="Normal")
        return {"UHostIds": [uhost_id], "IPs": [ip["IP"] for ip in ips]}

    def DescribeUHostInstance(self, p):
        region, project = self.region(p), self.project(p)
        hosts = [h for h in self.st.res["uhost"].values() if h["Region"] == region and h["ProjectId"] == project]
        ids = listed(p, "UHostIds")
        if ids:
            hosts = [h for h in hosts if h["UHostId"] in ids]
        if p.get("Tag"):
            hosts = [h for h in hosts if h["Tag"] == p["Tag"]]
        return {"TotalCount": len(hosts), "UHostSet": [view(h) for h in page(hosts, p, 20)]}

    def StopUHostInstance(self, p):
        region, project = self.region(p), self.project(p)
        self.required(p, "UHostId")
        h = self._uhost(p["UHostId"], region, project)
        if h["State"] == "Stopped":
            raise ApiError(E_STATE, f"UHost [{h['UHostId']}] state [Stopped] not allowed")
        if h["State"] != "Running":
            raise ApiError(E_STATE, f"UHost [{h['UHostId']}] state [{h['State']}] not allowed, must be Running")
        if h["BootDiskState"] != "Normal":
            raise ApiError(E_STATE, f"UHost [{h['UHostId']}] boot disk is {h['BootDiskState']}, not allowed")
        h["State"] = "Stopping"
        h["_next"] = []
        self.st.later(h, self.st.delay("uhost_stop"), State="Stopped")
        return {"UHostId": h["UHostId"], "UhostId": h["UHostId"]}

    def PoweroffUHostInstance(self, p):
        region, project = self.region(p), self.project(p)
        self.required(p, "UHostId")
        h = self._uhost(p["UHostId"], region, project)
        if h["State"] == "Stopped":
            raise ApiError(E_STATE, f"UHost [{h['UHostId']}] state [Stopped] not allowed")
        h["State"] = "Stopped"
        h["_next"] = [x for x in h["_next"] if "BootDiskState" in x[1]]
        return {"UHostId": h["UHostId"]}

    def StartUHostInstance(self, p):
        region, project = self.region(p), self.project(p)
        h = self._uhost(p["UHostId"], region, project)
        if h["State"] != "Stopped":
            raise ApiError(E_STATE, f"UHost [{h['UHostId']}] state [{h['State']}] not allowed, must be Stopped")
        h["State"] = "Starting"
        self.st.later(h, self.st.delay("uhost_start"), State="Running")
        return {"UHostId": h["UHostId"]}

    def TerminateUHostInstance(self, p):
        region, project = self.region(p), self.project(p)
        self.required(p, "UHostId")
        h = self._uhost(p["UHostId"], region, project)
        if h["State"] != "Stopped":
            raise ApiError(E_STATE, f"UHost [{h['UHostId']}] state [{h['State']}] not allowed, must be Stopped")
        if h["_eip"]:
            eip = self.st.res["eip"].get(h["_eip"])
            if eip is not None:
                if p.get("ReleaseEIP") == "true":
                    del self.st.res["eip"][h["_eip"]]
                else:
                    eip["Status"] = "free"
                    eip["Resource"] = {}
        h["State"] = "Deleting"
        h["_next"] = []
        self.st.later(h, self.st.delay("uhost_terminate"), _gone=True)
        return {"UHostIds": [h["UHostId"]], "InRecycle": "No"}

    # VPC and UNet -----------------------------------------------------
    def _listed_in(self, kind, key, p, ids_name):
        region, project = self.region(p), self.project(p)
        items = [r for r in self.st.res[kind].values() if r["Region"] == region and r["ProjectId"] == project]
        ids = listed(p, ids_name)
        if ids:
            items = [r for r in items if r[key] in ids]
        return items

    def DescribeVPC(self, p):
        items = self._listed_in("vpc", "VPCId", p, "VPCIds")
        return {"TotalCount": len(items), "DataSet": [view(v) for v in page(items, p, 10000)]}

    def DescribeSubnet(self, p):
        items = self._listed_in("subnet", "SubnetId", p, "SubnetIds")
        if p.get("SubnetId"):
            items = [s for s in items if s["SubnetId"] == p["SubnetId"]]
        if p.get("VPCId"):
            items = [s for s in items if s["VPCId"] == p["VPCId"]]
        return {"TotalCount": len(items), "DataSet": [view(s) for s in page(items, p, 20)]}

    def DescribeFirewall(self, p):
        region, project = self.region(p), self.project(p)
        items = [f for f in self.st.res["firewall"].values() if f["Region"] == region and f["ProjectId"] == project]
        if p.get("FWId"):
            items = [f for f in items if f["FWId"] == p["FWId"]]
            if not items:
                raise ApiError(E_FIREWALL_NOT_FOUND, f"Firewall [{p['FWId']}] not exists")
        return {"TotalCount": len(items), "DataSet": [view(f) for f in page(items, p, 20)]}

    def DescribeEIP(self, p):
        region, project = self.region(p), self.project(p)
        items = [e for e in self.st.res["eip"].values() if e["Region"] == region and e["ProjectId"] == project]
        ids = listed(p, "EIPIds")
        if ids:
            items = [e for e in items if e["EIPId"] in ids]
        return {"TotalCount": len(items), "EIPSet": [view(e) for e in page(items, p, 20)]}

    def AllocateEIP(self, p):
        region, project = self.region(p), self.project(p)
        eip_id = rand_id("eip-")
        operator = p.get("OperatorName", "Bgp")
        self.st.res["eip"][eip_id] = {"EIPId": eip_id, "Region": region, "ProjectId": project,
                                      "EIPAddr": [{"OperatorName": operator, "IP": self.st.cfg.public_ip}],
                                      "Bandwidth": int(p.get("Bandwidth") or 1), "PayMode": p.get("PayMode", "Bandwidth"),
                                      "Status": "free", "Resource": {}, "_next": []}
        return {"EIPSet": [{"EIPId": eip_id, "EIPAddr": [{"OperatorName": operator, "IP": self.st.cfg.public_ip}]}]}

    def _eip(self, p):
        region, project = self.region(p), self.project(p)
        self.required(p, "EIPId")
        e = self.st.res["eip"].get(p["EIPId"])
        if not e or e["Region"] != region or e["ProjectId"] != project:
            raise ApiError(E_PARAM, f"EIP [{p['EIPId']}] not exists")
        return e

    def BindEIP(self, p):
        e = self._eip(p)
        self.required(p, "ResourceType", "ResourceId")
        e["Status"] = "used"
        e["Resource"] = {"ResourceType": p["ResourceType"], "ResourceID": p["ResourceId"]}
        return {}

    def UnBindEIP(self, p):
        e = self._eip(p)
        e["Status"] = "free"
        e["Resource"] = {}
        return {}

    def ReleaseEIP(self, p):
        e = self._eip(p)
        if e["Status"] == "used":
            raise ApiError(E_STATE, f"EIP [{e['EIPId']}] is bound, unbind it first")
        del self.st.res["eip"][e["EIPId"]]
        return {}

    # UFile buckets (`api.ucloud.cn`, signed as the API) ------------------
    def CreateBucket(self, p):
        self.required(p, "BucketName")
        name = p["BucketName"]
        if name in self.st.res["bucket"]:
            raise ApiError(15010, f"Bucket [{name}] already exists")
        self.st.res["bucket"][name] = {"BucketName": name, "BucketId": rand_id("ufile-"),
                                       "Region": p.get("Region", "cn-bj"), "Type": p.get("Type", "private"),
                                       "ProjectId": p.get("ProjectId") or DEFAULT_PROJECT, "_next": []}
        return {"BucketName": name, "BucketId": self.st.res["bucket"][name]["BucketId"]}

    def DescribeBucket(self, p):
        items = [view(b) for b in self.st.res["bucket"].values()
                 if not p.get("BucketName") or b["BucketName"] == p["BucketName"]]
        return {"DataSet": items}

    def DeleteBucket(self, p):
        name = p.get("BucketName", "")
        if name not in self.st.res["bucket"]:
            raise ApiError(15010, f"Bucket [{name}] not exists")
        if any(b == name for b, _ in self.st.res["object"]):
            raise ApiError(15011, f"Bucket [{name}] is not empty")
        del self.st.res["bucket"][name]
        return {"BucketName": name}


def resources_view(st):
    out = {}
    for kind, items in st.res.items():
        if kind == "object":
            out[kind] = [{"Bucket": b, "Key": k, "Size": len(o["data"])} for (b, k), o in items.items()]
        elif kind == "upload":
            # Multipart uploads begun and neither finished nor aborted: the
            # storage UFile keeps (and bills) until they are.
            out[kind] = [{"UploadId": u, "Bucket": r["bucket"], "Key": r["key"], "Parts": len(r["parts"])}
                         for u, r in items.items()]
        else:
            out[kind] = [view(r) for r in items.values()]
    return out


# ---------------------------------------------------------------- HTTP


class Handler(fake_server.Handler):
    log_name = "ucloud-fake"
    keys_name = "public_keys"
    delays = (DELAYS, ZONES)
    fault_defaults = {}

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = lambda self: self._dispatch()

    def _dispatch(self):
        try:
            url = urlsplit(self.path)
            if url.path.startswith("/_fake/"):
                return self._admin(url)
            body = self._body()
            auth = self.headers.get("Authorization") or ""
            host = self._host()
            if auth.startswith("UCloud ") or host.endswith(".ufileos.com") or self.command in ("PUT", "DELETE", "HEAD"):
                return self._ufile(url, body)
            self._rpc(url, body)
        except BrokenPipeError:
            pass

    def resources_view(self):
        return resources_view(self.st)

    def _admin_more(self, path, body):
        st = self.st
        if path == "/_fake/fail" and self.command == "POST":
            # {"action": "CreateUHostInstance", "code": 153, "times": 2}: the
            # next `times` calls of `action` answer RetCode `code` (as
            # /_fake/faults with `count`).
            f = json.loads(body)
            f["count"] = f.pop("times", 1)
            self.add_fault(f)
            self._json(200, {"faults": st.faults})
            return True
        if path == "/_fake/seed_images" and self.command == "POST":
            # {"region", "project", "count", "prefix"}: Available custom
            # images (no UHost behind them), for paging tests.
            f = json.loads(body)
            made = [Api(st)._new_image(f.get("region", "cn-bj2"), f.get("project", DEFAULT_PROJECT),
                                       f"{f.get('prefix', 'seed')}-{i:03d}", "", "Available", "Linux",
                                       "CentOS 7.9 64位", 20, None)["ImageId"] for i in range(int(f.get("count", 1)))]
            self._json(200, {"ImageIds": made})
            return True
        return False

    def _admin_missing(self, path):
        self._json(404, {"RetCode": 404, "Message": f"no admin endpoint `{path}`"})

    def _record(self, service, action, params, code, resp):
        ids = {k: params[k] for k in ID_KEYS if params.get(k)}
        for k in RESPONSE_ID_KEYS:
            if isinstance(resp, dict) and resp.get(k) and k not in ids:
                ids[k] = resp[k]
        if isinstance(resp, dict) and resp.get("UHostIds"):
            ids.setdefault("UHostId", resp["UHostIds"][0])
        with self.st.lock:
            self.st.seq += 1
            self.st.log.append({
                "seq": self.st.seq, "time": time.time(), "service": service, "action": action,
                "region": params.get("Region", ""), "project": params.get("ProjectId", ""), "code": code,
                "ids": ids, "params": {k: ("***" if k in SECRET_PARAMS and v else v)
                                       for k, v in params.items() if k not in COMMON_PARAMS}})

    def _fail(self, action, code, message, params):
        self._record(service_of(action), action, params, code, {})
        self._json(200, {"RetCode": code, "Action": f"{action}Response", "Message": message})

    def _rpc(self, url, body):
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if body:
            ctype = self.headers.get("Content-Type") or ""
            if "json" in ctype:
                try:
                    params.update({k: encode_value(v) for k, v in json.loads(body).items()})
                except ValueError:
                    return self._fail("", E_PARAM, "the body is not JSON", params)
            else:
                params.update(dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
        action = params.get("Action", "")
        if not action:
            return self._fail("", E_ACTION, "Missing Action", params)
        public = params.get("PublicKey", "")
        signature = params.pop("Signature", "")
        with self.st.lock:
            private = self.st.cfg.keys.get(public)
        if private is None:
            return self._fail(action, E_PUBKEY, f"PublicKey [{public}] not exists" if public else
                              "Missing params [PublicKey]", params)
        if not hmac.compare_digest(signature, sign(private, params)):
            return self._fail(action, E_SIGNATURE, "Signature VerifyAC Error", params)
        fn = getattr(self.api, action, None) if action[:1].isupper() else None
        if fn is None:
            return self._fail(action, E_ACTION, f"Action [{action}] not exist", params)
        with self.st.lock:
            self.st.settle()
            due = fake_server.take_fault(self.st, action)
            if due:
                code = int(due["code"])
            else:
                try:
                    resp = fn(params)
                    code = 0
                except ApiError as e:
                    code, message = e.code, e.message
        if due:
            return self._fail(action, code, f"injected RetCode {code} (the fake's /_fake/faults)", params)
        if code:
            return self._fail(action, code, message, params)
        self._record(service_of(action), action, params, 0, resp)
        out = {"RetCode": 0, "Action": f"{action}Response"}
        out.update(resp)
        self._json(200, out, headers={"X-UCloud-Request-Uuid": str(uuid.uuid4())})

    # UFile ------------------------------------------------------------
    def _ufile_error(self, status, code, message, action, bucket, key):
        self._record("ufile", action, {"Bucket": bucket, "Key": key}, code, {})
        self._json(status, {"RetCode": code, "ErrMsg": message}, headers={"X-SessionId": str(uuid.uuid4())})

    def _ufile(self, url, body):
        host = self._host()
        path = unquote(url.path)
        if host.endswith(".ufileos.com"):
            bucket, key = host.split(".")[0], path.lstrip("/")
        else:
            bucket, _, key = path.lstrip("/").partition("/")
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        if "uploads" in query:
            action = "InitiateMultipartUpload"
        elif "uploadId" in query:
            action = {"PUT": "UploadPart", "POST": "FinishMultipartUpload",
                      "DELETE": "AbortMultipartUpload"}.get(self.command, self.command)
        else:
            action = {"PUT": "PutFile", "HEAD": "HeadFile", "DELETE": "DeleteFile", "GET": "GetFile"}.get(
                self.command, self.command)
        auth = self.headers.get("Authorization") or ""
        scheme, _, cred = auth.partition(" ")
        public, _, sig = cred.partition(":")
        with self.st.lock:
            private = self.st.cfg.keys.get(public)
        if scheme != "UCloud" or private is None:
            return self._ufile_error(403, -148653, "no authorization found or the public key is unknown", action, bucket, key)
        want = base64.b64encode(hmac.new(private.encode(), ufile_string_to_sign(
            self.command, dict(self.headers.items()), bucket, key).encode(), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(sig, want):
            return self._ufile_error(403, -148651, "signature not match", action, bucket, key)
        due = fake_server.take_fault(self.st, action)
        if due:
            # Injected (`/_fake/fail` or `/_fake/faults`): `code`, and
            # `status` (400 unless given).
            return self._ufile_error(int(due.get("status") or 400), int(due["code"]),
                                     f"injected error {due['code']} (the fake's /_fake/faults)", action, bucket, key)
        with self.st.lock:
            if bucket not in self.st.res["bucket"]:
                return self._ufile_error(400, -30010, f"bucket `{bucket}` not exist", action, bucket, key)
            objects = self.st.res["object"]
            if action in ("InitiateMultipartUpload", "UploadPart", "FinishMultipartUpload", "AbortMultipartUpload"):
                return self._multipart(action, query, bucket, key, body)
            if self.command == "PUT":
                etag = hashlib.md5(body).hexdigest()
                objects[(bucket, key)] = {"data": body, "etag": etag,
                                          "type": self.headers.get("Content-Type", "application/octet-stream")}
                self._record("ufile", action, {"Bucket": bucket, "Key": key}, 0, {})
                return self._send(200, b"", headers={"ETag": f'"{etag}"'})
            obj = objects.get((bucket, key))
            if obj is None:
                if self.command == "DELETE":
                    self._record("ufile", action, {"Bucket": bucket, "Key": key}, 0, {})
                    return self._send(204, b"")
                return self._ufile_error(404, -148654, "file not exist", action, bucket, key)
            self._record("ufile", action, {"Bucket": bucket, "Key": key}, 0, {})
            if self.command == "DELETE":
                del objects[(bucket, key)]
                return self._send(204, b"")
            if self.command == "HEAD":
                self.send_response(200)
                self.send_header("Content-Type", obj["type"])
                self.send_header("Content-Length", str(len(obj["data"])))
                self.send_header("ETag", f'"{obj["etag"]}"')
                self.end_headers()
                return None
            return self._send(200, obj["data"], ctype=obj["type"], headers={"ETag": f'"{obj["etag"]}"'})

    def _multipart(self, action, query, bucket, key, body):
        """UFile's multipart upload (ufile SDKs' `MPut`, the plugin's
        `AsyncMPut`), under the state's lock: `POST ?uploads` begins one
        (`UploadId`, `BlkSize` 4 MiB), `PUT ?uploadId&partNumber` (from 0)
        stores a part of exactly `BlkSize` bytes (the last may be shorter)
        and answers its `ETag`, `POST ?uploadId` with the parts' ETags
        joined by commas makes the object, `DELETE ?uploadId` drops the
        parts."""
        uploads = self.st.res["upload"]
        rec = lambda: self._record("ufile", action, {"Bucket": bucket, "Key": key}, 0, {})
        if action == "InitiateMultipartUpload":
            if self.command != "POST":
                return self._ufile_error(405, -148601, "method not allowed", action, bucket, key)
            upload_id = uuid.uuid4().hex
            uploads[upload_id] = {"bucket": bucket, "key": key, "parts": {},
                                  "type": self.headers.get("Content-Type", "application/octet-stream")}
            rec()
            return self._json(200, {"UploadId": upload_id, "BlkSize": MULTIPART_BLOCK, "Bucket": bucket,
                                    "Key": key})
        upload_id = query.get("uploadId", "")
        up = uploads.get(upload_id)
        if up is None or (up["bucket"], up["key"]) != (bucket, key):
            return self._ufile_error(400, -37014, f"upload id `{upload_id}` not exist", action, bucket, key)
        if action == "UploadPart":
            try:
                n = int(query.get("partNumber", ""))
            except ValueError:
                return self._ufile_error(400, -37005, "invalid partNumber", action, bucket, key)
            if n < 0 or len(body) > MULTIPART_BLOCK or (not body and n > 0):
                return self._ufile_error(400, -37006, f"part {n} of {len(body)} bytes is invalid", action, bucket,
                                         key)
            etag = hashlib.md5(body).hexdigest()
            up["parts"][n] = (etag, body)
            rec()
            return self._send(200, b"", headers={"ETag": f'"{etag}"'})
        if action == "AbortMultipartUpload":
            del uploads[upload_id]
            rec()
            return self._send(204, b"")
        etags = [e.strip().strip('"') for e in body.decode().split(",") if e.strip()]
        parts = up["parts"]
        if sorted(parts) != list(range(len(parts))) or etags != [parts[n][0] for n in range(len(parts))]:
            return self._ufile_error(400, -37011, "the ETags do not name the uploaded parts in order", action,
                                     bucket, key)
        if any(len(parts[n][1]) != MULTIPART_BLOCK for n in range(len(parts) - 1)):
            return self._ufile_error(400, -37012, f"every part but the last must be {MULTIPART_BLOCK} bytes",
                                     action, bucket, key)
        data = b"".join(parts[n][1] for n in range(len(parts)))
        etag = hashlib.md5(data).hexdigest()
        self.st.res["object"][(bucket, key)] = {"data": data, "etag": etag, "type": up["type"]}
        del uploads[upload_id]
        rec()
        return self._json(200, {"Bucket": bucket, "Key": key, "FileSize": len(data)},
                          headers={"ETag": f'"{etag}"'})


MULTIPART_BLOCK = 4 * 1024 * 1024


def encode_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


SERVICES = {"GetProjectList": "uaccount", "GetRegion": "uaccount", "DescribeVPC": "vpc", "DescribeSubnet": "vpc",
            "DescribeFirewall": "unet", "DescribeEIP": "unet", "AllocateEIP": "unet", "BindEIP": "unet",
            "UnBindEIP": "unet", "ReleaseEIP": "unet", "CreateBucket": "ufile", "DescribeBucket": "ufile",
            "DeleteBucket": "ufile"}


def service_of(action):
    return SERVICES.get(action, "uhost")


def main():
    fake_server.main("ucloud", "A FAKE UCloud API (UHost, VPC, UNet, UAccount, UFile) for tests, on loopback.",
                     Handler, lambda a: State(Config(a)), Api, https=False)


if __name__ == "__main__":
    main()
