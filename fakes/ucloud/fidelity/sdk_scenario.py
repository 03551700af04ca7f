#!/usr/bin/env python3
"""Drives the FAKE UCloud API with UCloud's own Python SDKs
(ucloud-sdk-python3 and `ufile`), through every call a ucloud-uhost build
and a ucloud-import make, plus bad signatures, unknown keys, paging and
injected throttling: the fidelity check of fakes/ucloud (Debian's packer
1.6.6 has no ucloud builder to compare with).

Usage: sdk_scenario.py BASE_URL PUBLIC_KEY PRIVATE_KEY
(the private key may also come from UCLOUD_PRIVATE_KEY). Prints one line
per check and `ok: N checks` at the end; exits non-zero at the first
failure.
"""

import hashlib
import json
import os
import sys
import tempfile
import time
import urllib.request

from ucloud.client import Client
from ucloud.core import exc

CHECKS = 0


def check(cond, what):
    global CHECKS
    if not cond:
        print(f"FAIL: {what}", flush=True)
        sys.exit(1)
    CHECKS += 1
    print(f"ok: {what}", flush=True)


def admin(base, path, body=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                 method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def ret_code(fn):
    try:
        fn()
    except exc.RetCodeException as e:
        return e.code
    return 0


def wait(what, fn, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.05)
    check(False, f"{what} within {timeout}s")


def main():
    base, public = sys.argv[1], sys.argv[2]
    private = sys.argv[3] if len(sys.argv) > 3 else os.environ["UCLOUD_PRIVATE_KEY"]
    cfg = {"region": "cn-bj2", "project_id": "org-kiln", "base_url": base, "public_key": public,
           "private_key": private, "max_retries": 0, "log_level": 40}
    c = Client(cfg)

    # Credentials: a wrong private key is RetCode 170, an unknown public key 171.
    bad = Client(dict(cfg, private_key=private + "x"))
    check(ret_code(lambda: bad.uaccount().get_project_list({})) == 170, "a wrong private key is RetCode 170")
    nobody = Client(dict(cfg, public_key="nobody"))
    check(ret_code(lambda: nobody.uaccount().get_project_list({})) == 171, "an unknown public key is RetCode 171")

    # Pre-validation: projects, regions and zones.
    projects = [p["ProjectId"] for p in c.uaccount().get_project_list({})["ProjectSet"]]
    check({"org-kiln", "org-copy"} <= set(projects), f"GetProjectList lists the projects ({projects})")
    regions = c.uaccount().get_region({})["Regions"]
    check(any(r["Region"] == "cn-bj2" and r["Zone"] == "cn-bj2-02" for r in regions), "GetRegion lists cn-bj2-02")

    # Per-zone boot disk types.
    types = c.uhost().describe_available_instance_types({"Zone": "cn-bj2-04"})["AvailableInstanceTypes"]
    n = next(t for t in types if t["Name"] == "N")
    boot = sorted(d["Name"] for d in n["Disks"][0]["BootDisk"])
    check(boot == ["CLOUD_RSSD", "LOCAL_NORMAL"], f"cn-bj2-04 offers {boot} as boot disks")

    # DescribeImage answers 20 a page; Offset/Limit page through the rest.
    first = c.uhost().describe_image({"ImageType": "Base"})
    check(len(first["ImageSet"]) == 20 and first["TotalCount"] == 45, "DescribeImage: 20 of 45 by default")
    seen, offset = [], 0
    while True:
        pg = c.uhost().describe_image({"ImageType": "Base", "Offset": offset, "Limit": 20})["ImageSet"]
        seen += [i["ImageId"] for i in pg]
        if len(pg) < 20:
            break
        offset += 20
    check(len(seen) == 45 and "uimage-centos79" in seen and "uimage-centos79" not in
          [i["ImageId"] for i in first["ImageSet"]], "uimage-centos79 is past the first page")
    src = c.uhost().describe_image({"ImageId": "uimage-centos79"})["ImageSet"]
    check(len(src) == 1 and src[0]["OsType"] == "Linux" and "CloudInit" in src[0]["Features"],
          "DescribeImage by ImageId")

    # Network: VPC, subnet, firewall.
    vpc = c.vpc().describe_vpc({"VPCIds": ["uvnet-kiln"]})["DataSet"]
    check(len(vpc) == 1, "DescribeVPC by id")
    sub = c.vpc().describe_subnet({"SubnetIds": ["subnet-kiln"]})["DataSet"]
    check(len(sub) == 1 and sub[0]["VPCId"] == "uvnet-kiln", "DescribeSubnet by id")
    fws = c.unet().describe_firewall({"Limit": 100, "Offset": 0})["DataSet"]
    check(any(f["Type"] == "recommend non web" for f in fws), "DescribeFirewall lists the non-web default")
    check(ret_code(lambda: c.unet().describe_firewall({"FWId": "firewall-nope"})) == 54002,
          "an unknown firewall is RetCode 54002")

    # A boot disk type the zone does not offer is refused.
    create = {"Zone": "cn-bj2-04", "ImageId": "uimage-centos79", "LoginMode": "Password", "Password": "Kiln-pass1",
              "CPU": 1, "Memory": 1024, "ChargeType": "Dynamic", "MachineType": "N", "Name": "packer-sdk",
              "Disks": [{"IsBoot": "true", "Type": "CLOUD_SSD", "Size": 20}],
              "NetworkInterface": [{"EIP": {"Bandwidth": 10, "PayMode": "Traffic", "OperatorName": "Bgp"}}],
              "VPCId": "uvnet-kiln", "SubnetId": "subnet-kiln", "SecurityGroupId": "firewall-kiln"}
    check(ret_code(lambda: c.uhost().create_uhost_instance(create)) == 8020,
          "CLOUD_SSD in cn-bj2-04 is refused (8020)")

    # Throttling injected through /_fake/fail is RetCode 153, then it passes.
    admin(base, "/_fake/fail", {"action": "CreateUHostInstance", "code": 153, "times": 1})
    check(ret_code(lambda: c.uhost().create_uhost_instance(dict(create, Zone="cn-bj2-02"))) == 153,
          "an injected throttle is RetCode 153")

    # The build: create, run, stop, image, copy, terminate.
    made = c.uhost().create_uhost_instance(dict(create, Zone="cn-bj2-02"))
    uhost = made["UHostIds"][0]
    check(uhost.startswith("uhost-") and "127.0.0.1" in made["IPs"], f"CreateUHostInstance made {uhost}")
    states = set()

    def state():
        h = c.uhost().describe_uhost_instance({"UHostIds": [uhost]})["UHostSet"][0]
        states.add(h["State"])
        return h

    wait("the UHost runs", lambda: state()["State"] == "Running")
    h = state()
    check({"Initializing", "Running"} <= states, f"the UHost went through {sorted(states)}")
    check(any(ip["Type"] == "Bgp" and ip["IP"] == "127.0.0.1" for ip in h["IPSet"]), "the UHost has its EIP")
    check(ret_code(lambda: c.uhost().create_custom_image({"UHostId": uhost, "ImageName": "x"})) == 8010,
          "imaging a running UHost is refused")
    check(ret_code(lambda: c.uhost().terminate_uhost_instance({"UHostId": uhost})) == 8010,
          "terminating a running UHost is refused")
    c.uhost().stop_uhost_instance({"UHostId": uhost})
    check(state()["State"] == "Stopping", "StopUHostInstance: Stopping")
    wait("the UHost stops", lambda: state()["State"] == "Stopped")
    image = c.uhost().create_custom_image({"UHostId": uhost, "ImageName": "kiln-sdk",
                                           "ImageDescription": "made by the SDK"})["ImageId"]
    img = lambda p="org-kiln", r="cn-bj2", i=image: Client(dict(cfg, project_id=p, region=r)).uhost().describe_image(
        {"ImageId": i})["ImageSet"]
    check(img()[0]["State"] == "Making", "a new image is Making")
    wait("the image is available", lambda: img()[0]["State"] == "Available")
    copy = c.uhost().copy_custom_image({"SourceImageId": image, "TargetProjectId": "org-copy",
                                        "TargetRegion": "cn-sh2", "TargetImageName": "kiln-sdk-copy"})["TargetImageId"]
    check(img("org-copy", "cn-sh2", copy)[0]["State"] == "Copying", "a copy is Copying")
    check(img("org-kiln", "cn-sh2", copy) == [], "the copy is in its project only")
    wait("the copy is available", lambda: img("org-copy", "cn-sh2", copy)[0]["State"] == "Available")
    c.uhost().terminate_uhost_instance({"UHostId": uhost, "ReleaseEIP": True, "ReleaseUDisk": True})
    wait("the UHost is gone", lambda: c.uhost().describe_uhost_instance({"UHostIds": [uhost]})["UHostSet"] == [])
    check(admin(base, "/_fake/resources")["eip"] == [], "ReleaseEIP released the EIP")

    # ucloud-import: bucket, object upload with UFile's token, import, delete.
    from ufile import bucketmanager, config as ufile_config, filemanager
    os.environ["HTTP_PROXY"] = base  # every `<bucket>.<region>.ufileos.com` is the fake
    ufile_config.UCLOUD_API_URL = base
    bucketmanager.UCLOUD_API_URL = base
    bm = bucketmanager.BucketManager(public, private)
    ret, resp = bm.createbucket("kiln-bucket", "cn-bj", "private")
    check(resp.status_code == 200 and ret.get("RetCode") == 0, f"CreateBucket ({resp.status_code} {ret})")
    fm = filemanager.FileManager(public, private, upload_suffix=".cn-bj.ufileos.com")
    with tempfile.NamedTemporaryFile(suffix=".raw") as f:
        f.write(b"\0" * 4096)
        f.flush()
        ret, resp = fm.putfile("kiln-bucket", "images/disk.raw", f.name)
        check(resp.status_code == 200, f"PutFile with UFile's token ({resp.status_code})")
        bad_fm = filemanager.FileManager(public, private + "x", upload_suffix=".cn-bj.ufileos.com")
        ret, resp = bad_fm.putfile("kiln-bucket", "images/other.raw", f.name)
        check(resp.status_code == 403, f"a bad UFile token is refused ({resp.status_code})")
    ret, resp = fm.head_file("kiln-bucket", "images/disk.raw")
    check(resp.status_code == 200, f"HeadFile ({resp.status_code})")
    # The multipart upload the plugin's `AsyncMPut` (and kiln) use: 4 MiB
    # parts, finished with their ETags in order.
    from ufile import multipartuploadufile
    mu = multipartuploadufile.MultipartUploadUFile(public, private, upload_suffix=".cn-bj.ufileos.com")
    with tempfile.NamedTemporaryFile(suffix=".raw") as f:
        blob = bytes(range(256)) * (9 * 4096 + 7)  # 2 whole 4 MiB parts and a short one
        f.write(blob)
        f.flush()
        ret, resp = mu.uploadfile("kiln-bucket", "images/big.raw", f.name, maxthread=2)
        check(resp.status_code == 200, f"a multipart upload finishes ({resp.status_code} {ret})")
        check(len(mu.etaglist) == 3, f"in three parts ({len(mu.etaglist)})")
        ret, resp = fm.head_file("kiln-bucket", "images/big.raw")
        check(resp.status_code == 200 and resp.etag.strip('"') == hashlib.md5(blob).hexdigest(),
              f"the object is the parts in order ({resp.status_code} {resp.etag})")
        bad_mu = multipartuploadufile.MultipartUploadUFile(public, private + "x", upload_suffix=".cn-bj.ufileos.com")
        ret, resp = bad_mu.uploadfile("kiln-bucket", "images/refused.raw", f.name)
        check(resp.status_code == 403, f"a bad UFile token cannot begin one ({resp.status_code})")
    check(admin(base, "/_fake/resources")["upload"] == [], "no multipart upload is left open")
    ret, resp = fm.deletefile("kiln-bucket", "images/big.raw")
    check(resp.status_code == 204, f"DeleteFile of the multipart object ({resp.status_code})")
    url = "http://kiln-bucket.cn-bj.ufileos.com/images/disk.raw"
    imported = c.uhost().import_custom_image({"ImageName": "kiln-import", "UFileUrl": url, "OsType": "CentOS",
                                              "OsName": "CentOS 7.9 64位", "Format": "RAW", "Auth": True})["ImageId"]
    wait("the import is available", lambda: img(i=imported)[0]["State"] == "Available")
    ret, resp = fm.deletefile("kiln-bucket", "images/disk.raw")
    check(resp.status_code == 204, f"DeleteFile ({resp.status_code})")
    ret, resp = fm.head_file("kiln-bucket", "images/disk.raw")
    check(resp.status_code == 404, f"the object is gone ({resp.status_code})")

    for i in (image, imported):
        c.uhost().terminate_custom_image({"ImageId": i})
    Client(dict(cfg, project_id="org-copy", region="cn-sh2")).uhost().terminate_custom_image({"ImageId": copy})
    check(ret_code(lambda: c.uhost().terminate_custom_image({"ImageId": image})) == 8011,
          "a deleted image is RetCode 8011")
    res = admin(base, "/_fake/resources")
    check(res["image"] == [] and res["uhost"] == [], "nothing is left")
    print(f"ok: {CHECKS} checks")


if __name__ == "__main__":
    main()
