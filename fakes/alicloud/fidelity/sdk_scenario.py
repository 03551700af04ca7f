#!/usr/bin/env python3
"""Drives the FAKE Alibaba Cloud API with Alibaba's own Python SDKs.

Proves the fake's fidelity: the SDKs sign requests their own way (RPC
signature v1 from aliyun-python-sdk-core, ACS3-HMAC-SHA256 and v1 from the
Tea SDK alibabacloud-ecs20140526, the OSS header signature from oss2) and
parse the fake's answers their own way. It runs what an alicloud-ecs build
does (regions, image lookup, VPC, vswitch, security group + rule, key pair,
instance create/start/stop, image create/copy/share/tag, teardown), the
alicloud-import path (RAM role check, OSS upload incl. multipart,
ImportImage), and the rejections (reused nonce, wrong secret, skewed clock,
unknown key, wrong state, duplicate name, dependency, unknown region) as
the SDK's ServerException with Alibaba's codes.

Usage: sdk_scenario.py HTTP_ENDPOINT [HTTPS_ENDPOINT CA_PEM]
  (e.g. http://127.0.0.1:8080 https://127.0.0.1:8443 /tmp/.../ca.pem); with
  the HTTPS pair one call also goes over TLS, verified against the CA.
Environment: ALICLOUD_ACCESS_KEY / ALICLOUD_SECRET_KEY (the fake's key).
Prints one line per check and `N passed, N failed`; exits 1 on a failure.
"""

import json
import os
import sys
import time
import traceback
import warnings
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
from checks import check, finish  # noqa: E402  (fakes/shared: a scenario's tally)

warnings.filterwarnings("ignore")

from aliyunsdkcore.acs_exception.exceptions import ServerException  # noqa: E402
from aliyunsdkcore.client import AcsClient  # noqa: E402
from aliyunsdkcore.request import CommonRequest  # noqa: E402
from aliyunsdkcore.utils import parameter_helper  # noqa: E402
from aliyunsdkecs.request.v20140526 import (  # noqa: E402
    AttachKeyPairRequest, AuthorizeSecurityGroupRequest, CopyImageRequest, CreateImageRequest,
    CreateInstanceRequest, CreateKeyPairRequest, CreateSecurityGroupRequest, CreateSnapshotRequest,
    DeleteImageRequest, DescribeDisksRequest, DescribeKeyPairsRequest,
    DeleteInstanceRequest, DeleteKeyPairsRequest, DeleteSecurityGroupRequest, DeleteSnapshotRequest,
    DescribeImageSharePermissionRequest, DescribeImagesRequest, DescribeInstancesRequest,
    DescribeRegionsRequest, DescribeSecurityGroupsRequest, DescribeSnapshotsRequest, DescribeZonesRequest,
    ImportImageRequest, ModifyImageSharePermissionRequest, StartInstanceRequest, StopInstanceRequest,
    TagResourcesRequest,
)
from aliyunsdkvpc.request.v20160428 import (  # noqa: E402
    AllocateEipAddressRequest, AssociateEipAddressRequest, CreateVpcRequest, CreateVSwitchRequest,
    DeleteVpcRequest, DeleteVSwitchRequest, DescribeEipAddressesRequest, DescribeVpcsRequest,
    DescribeVSwitchesRequest, ReleaseEipAddressRequest, UnassociateEipAddressRequest,
)

ENDPOINT = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
HOSTPORT = urlsplit(ENDPOINT).netloc
SCHEME = urlsplit(ENDPOINT).scheme
AK = os.environ.get("ALICLOUD_ACCESS_KEY", "LTAIfakeaccesskey")
SK = os.environ.get("ALICLOUD_SECRET_KEY", "fakesecretkey")
REGION, COPY_REGION, IMPORT_REGION = "cn-beijing", "cn-shanghai", "cn-hangzhou"
SOURCE_IMAGE = "centos_7_9_x64_20G_alibase_20200000.vhd"
IMAGE_NAME = f"kiln-sdk-scenario-{int(time.time())}"
SHARE_ACCOUNT = "1111222233334444"


def client(secret=SK, ak=AK, region=REGION):
    return AcsClient(ak, secret, region, auto_retry=False, max_retry_time=0, timeout=15)


CLIENT = client()
CLIENTS = {REGION: CLIENT}


def call(req_mod, region=REGION, cli=None, **kw):
    """One request through aliyun-python-sdk-core with an ECS/VPC request class."""
    cls = getattr(req_mod, req_mod.__name__.rsplit(".", 1)[1])
    req = cls()
    req.set_endpoint(HOSTPORT)
    req.set_protocol_type(SCHEME)
    req.set_accept_format("json")
    if hasattr(req, "set_RegionId") and region:
        req.set_RegionId(region)
    for k, v in kw.items():
        getattr(req, f"set_{k}")(v)
    # aliyun-python-sdk-core sends the client's region as RegionId.
    if cli is None:
        cli = CLIENTS.setdefault(region, client(region=region or REGION))
    return json.loads(cli.do_action_with_exception(req))


def common(action, version, region=REGION, **params):
    req = CommonRequest()
    req.set_domain(HOSTPORT)
    req.set_protocol_type(SCHEME)
    req.set_version(version)
    req.set_action_name(action)
    req.set_method("POST")
    req.set_accept_format("json")
    if region:
        req.add_query_param("RegionId", region)
    for k, v in params.items():
        req.add_query_param(k, v)
    return json.loads(CLIENT.do_action_with_exception(req))


def expect_error(what, code, fn, status=None):
    try:
        fn()
    except ServerException as e:
        ok = e.get_error_code() == code and (status is None or e.get_http_status() == status)
        check(f"{what} -> {code}", ok, f"(got {e.get_http_status()} {e.get_error_code()}: {e.get_error_msg()})")
        return
    except Exception as e:  # a Tea SDK exception
        got = getattr(e, "code", None)
        sc = getattr(e, "status_code", None) or getattr(e, "statusCode", None)
        check(f"{what} -> {code}", got == code and (status is None or sc == status), f"(got {sc} {got}: {e})")
        return
    check(f"{what} -> {code}", False, "(no error)")


def wait(what, fn, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            check(f"wait: {what}", True)
            return True
        time.sleep(0.2)
    check(f"wait: {what}", False, "(timed out)")
    return False


def instance(iid, region=REGION):
    out = call(DescribeInstancesRequest, region, InstanceIds=json.dumps([iid]))
    return out["Instances"]["Instance"][0] if out["Instances"]["Instance"] else None


def image(iid, region):
    out = call(DescribeImagesRequest, region, ImageId=iid, Status="Creating,Waiting,Available,CreateFailed")
    return out["Images"]["Image"][0] if out["Images"]["Image"] else None


def admin(path):
    with urlopen(ENDPOINT + path, timeout=10) as r:
        return json.loads(r.read())


def set_scale(scale):
    req = Request(ENDPOINT + "/_fake/config", data=json.dumps({"time_scale": scale}).encode(), method="POST")
    urlopen(req, timeout=10).read()


def build_flow():
    regions = [r["RegionId"] for r in call(DescribeRegionsRequest)["Regions"]["Region"]]
    check("DescribeRegions lists cn-beijing and cn-shanghai", REGION in regions and COPY_REGION in regions, regions)
    zones = call(DescribeZonesRequest)["Zones"]["Zone"]
    zone = next(z["ZoneId"] for z in zones if "ecs.n1.tiny" in z["AvailableInstanceTypes"]["InstanceTypes"]
                and "VSwitch" in z["AvailableResourceCreation"]["ResourceTypes"])
    check("DescribeZones offers ecs.n1.tiny with VSwitch", zone.startswith(REGION), zone)
    imgs = call(DescribeImagesRequest, ImageId=SOURCE_IMAGE)["Images"]["Image"]
    check("DescribeImages finds the public source image", len(imgs) == 1 and imgs[0]["ImageOwnerAlias"] == "system")
    check("marketplace lookup of a system image is empty",
          call(DescribeImagesRequest, ImageId=SOURCE_IMAGE, ImageOwnerAlias="marketplace")["Images"]["Image"] == [])
    expect_error("DescribeImages in an unknown region", "InvalidRegionId.NotFound",
                 lambda: call(DescribeImagesRequest, region="xx-nowhere-1"), 404)

    vpc = call(CreateVpcRequest, CidrBlock="172.16.0.0/16", VpcName="kiln-sdk")["VpcId"]
    wait("vpc Available", lambda: call(DescribeVpcsRequest, VpcId=vpc)["Vpcs"]["Vpc"][0]["Status"] == "Available")
    vsw = call(CreateVSwitchRequest, VpcId=vpc, ZoneId=zone, CidrBlock="172.16.0.0/24", VSwitchName="kiln-sdk")["VSwitchId"]
    wait("vswitch Available", lambda: call(DescribeVSwitchesRequest, VSwitchId=vsw)["VSwitches"]["VSwitch"][0]["Status"] == "Available")
    sg = call(CreateSecurityGroupRequest, VpcId=vpc, SecurityGroupName="kiln-sdk", Description="kiln")["SecurityGroupId"]
    call(AuthorizeSecurityGroupRequest, SecurityGroupId=sg, IpProtocol="tcp", PortRange="22/22",
         SourceCidrIp="0.0.0.0/0", NicType="intranet")
    sgs = call(DescribeSecurityGroupsRequest, VpcId=vpc)["SecurityGroups"]["SecurityGroup"]
    check("DescribeSecurityGroups finds the group", [g["SecurityGroupId"] for g in sgs] == [sg])
    expect_error("DeleteVpc with a vswitch", "DependencyViolation.VSwitch", lambda: call(DeleteVpcRequest, VpcId=vpc))

    key = call(CreateKeyPairRequest, KeyPairName="kiln_sdk_key")
    check("CreateKeyPair returns a PEM private key", key["PrivateKeyBody"].startswith("-----BEGIN RSA PRIVATE KEY-----"))

    # Slow the fake down while the Pending state is checked.
    scale = admin("/_fake/config")["time_scale"]
    set_scale(max(scale, 0.2))
    token = f"kiln-{time.time()}"
    iid = call(CreateInstanceRequest, ImageId=SOURCE_IMAGE, InstanceType="ecs.n1.tiny", SecurityGroupId=sg,
               VSwitchId=vsw, IoOptimized="optimized", InstanceName="kiln-sdk", ClientToken=token)["InstanceId"]
    again = call(CreateInstanceRequest, ImageId=SOURCE_IMAGE, InstanceType="ecs.n1.tiny", SecurityGroupId=sg,
                 VSwitchId=vsw, IoOptimized="optimized", InstanceName="kiln-sdk", ClientToken=token)["InstanceId"]
    check("CreateInstance is idempotent on ClientToken", again == iid, (iid, again))
    check("a new instance is Pending", instance(iid)["Status"] == "Pending")
    expect_error("StartInstance while Pending", "IncorrectInstanceStatus",
                 lambda: call(StartInstanceRequest, InstanceId=iid), 403)
    set_scale(scale)
    wait("instance Stopped after creation", lambda: instance(iid)["Status"] == "Stopped")
    att = call(AttachKeyPairRequest, KeyPairName="kiln_sdk_key", InstanceIds=json.dumps([iid]))
    check("AttachKeyPair succeeds", att["FailCount"] == "0")
    eip = call(AllocateEipAddressRequest, InternetChargeType="PayByTraffic", Bandwidth="5")
    call(AssociateEipAddressRequest, AllocationId=eip["AllocationId"], InstanceId=iid)
    wait("EIP InUse", lambda: call(DescribeEipAddressesRequest, AllocationId=eip["AllocationId"])["EipAddresses"]["EipAddress"][0]["Status"] == "InUse")
    call(StartInstanceRequest, InstanceId=iid)
    check("a started instance is Starting", instance(iid)["Status"] == "Starting")
    wait("instance Running", lambda: instance(iid)["Status"] == "Running")
    inst = instance(iid)
    check("the instance reports its EIP and private IP", inst["EipAddress"]["IpAddress"] == eip["EipAddress"]
          and inst["VpcAttributes"]["PrivateIpAddress"]["IpAddress"], inst["EipAddress"])
    keys = urlopen(ENDPOINT + "/_fake/authorized_keys", timeout=10).read().decode()
    check("the attached key is authorised on the running instance", "kiln_sdk_key" in keys)
    expect_error("StartInstance while Running", "IncorrectInstanceStatus", lambda: call(StartInstanceRequest, InstanceId=iid), 403)
    expect_error("DeleteInstance while Running", "IncorrectInstanceStatus", lambda: call(DeleteInstanceRequest, InstanceId=iid), 403)
    expect_error("DeleteSecurityGroup in use", "DependencyViolation", lambda: call(DeleteSecurityGroupRequest, SecurityGroupId=sg), 403)
    expect_error("DeleteVSwitch in use", "DependencyViolation", lambda: call(DeleteVSwitchRequest, VSwitchId=vsw))
    expect_error("ReleaseEipAddress while InUse", "IncorrectEipStatus",
                 lambda: call(ReleaseEipAddressRequest, AllocationId=eip["AllocationId"]))
    call(StopInstanceRequest, InstanceId=iid)
    wait("instance Stopped", lambda: instance(iid)["Status"] == "Stopped")

    img = call(CreateImageRequest, InstanceId=iid, ImageName=IMAGE_NAME, Description="kiln sdk scenario")["ImageId"]
    seen = []
    # One look per poll: the progress seen last is the Available image's.
    wait("image Available",
         lambda: (lambda im: seen.append(im["Progress"]) or im["Status"] == "Available")(image(img, REGION)))
    check("image progress is reported as a percentage", all(p.endswith("%") for p in seen) and seen[-1] == "100%", seen)
    expect_error("CreateImage with a used name", "InvalidImageName.Duplicated",
                 lambda: call(CreateImageRequest, InstanceId=iid, ImageName=IMAGE_NAME))
    snaps = [d["SnapshotId"] for d in image(img, REGION)["DiskDeviceMappings"]["DiskDeviceMapping"]]
    check("the image has a system disk snapshot", len(snaps) == 1 and snaps[0].startswith("s-"))
    copied = call(CopyImageRequest, ImageId=img, DestinationRegionId=COPY_REGION, DestinationImageName=IMAGE_NAME)["ImageId"]
    check("the copy is not Available at once", image(copied, COPY_REGION)["Status"] in ("Waiting", "Creating"))
    check("the copy is not visible in the source region", image(copied, REGION) is None)
    wait("copied image Available", lambda: image(copied, COPY_REGION)["Status"] == "Available")
    expect_error("CopyImage to an unknown region", "InvalidRegionId.NotFound",
                 lambda: call(CopyImageRequest, ImageId=img, DestinationRegionId="xx-nowhere-1"))
    call(ModifyImageSharePermissionRequest, ImageId=img, AddAccounts=[SHARE_ACCOUNT])
    perms = call(DescribeImageSharePermissionRequest, ImageId=img)["Accounts"]["Account"]
    check("the image is shared with the account", [a["AliyunId"] for a in perms] == [SHARE_ACCOUNT])
    call(TagResourcesRequest, ResourceType="image", ResourceIds=[img], Tags=[{"Key": "kiln", "Value": "sdk"}])
    tagged = call(DescribeImagesRequest, ImageOwnerAlias="self", Tags=[{"Key": "kiln", "Value": "sdk"}])["Images"]["Image"]
    check("DescribeImages filters by tag", [i["ImageId"] for i in tagged] == [img])

    snapshot_flow(iid, img)

    # Teardown of the temporaries, as a build's cleanup does.
    call(UnassociateEipAddressRequest, AllocationId=eip["AllocationId"], InstanceId=iid)
    wait("EIP Available again", lambda: call(DescribeEipAddressesRequest, AllocationId=eip["AllocationId"])["EipAddresses"]["EipAddress"][0]["Status"] == "Available")
    call(ReleaseEipAddressRequest, AllocationId=eip["AllocationId"])
    call(DeleteInstanceRequest, InstanceId=iid, Force=True)
    call(DeleteKeyPairsRequest, KeyPairNames=json.dumps(["kiln_sdk_key"]))
    call(DeleteSecurityGroupRequest, SecurityGroupId=sg)
    call(DeleteVSwitchRequest, VSwitchId=vsw)
    call(DeleteVpcRequest, VpcId=vpc)
    check("no instance is left", call(DescribeInstancesRequest)["TotalCount"] == 0)
    return img, copied, snaps


def snapshot_flow(iid, img):
    """`image_ignore_data_disks`, `image_encrypted` and `kiln cleanup`'s
    calls: the system disk's snapshot and an image of it alone, an
    encrypted copy in the same region, and listings filtered by tag."""
    run_tag = [{"Key": "kiln:run", "Value": "sdk-run"}]
    disks = call(DescribeDisksRequest, InstanceId=iid, DiskType="system")["Disks"]["Disk"]
    check("DescribeDisks finds the system disk alone", len(disks) == 1 and disks[0]["Type"] == "system", disks)
    check("DescribeDisks of data disks is empty",
          call(DescribeDisksRequest, InstanceId=iid, DiskType="data")["Disks"]["Disk"] == [])
    token = f"kiln-snap-{time.time()}"
    snap = call(CreateSnapshotRequest, DiskId=disks[0]["DiskId"], ClientToken=token, Tags=run_tag)["SnapshotId"]
    again = call(CreateSnapshotRequest, DiskId=disks[0]["DiskId"], ClientToken=token, Tags=run_tag)["SnapshotId"]
    check("CreateSnapshot is idempotent on ClientToken", snap == again, (snap, again))

    def snapshot(sid, region=REGION):
        found = call(DescribeSnapshotsRequest, region=region, SnapshotIds=json.dumps([sid]))["Snapshots"]["Snapshot"]
        return found[0] if found else None
    wait("snapshot accomplished", lambda: snapshot(snap)["Status"] == "accomplished")
    check("the snapshot is of the system disk", snapshot(snap)["SourceDiskType"] == "system")
    tagged = call(DescribeSnapshotsRequest, Tags=run_tag)["Snapshots"]["Snapshot"]
    check("DescribeSnapshots filters by tag", [x["SnapshotId"] for x in tagged] == [snap], tagged)
    call(TagResourcesRequest, ResourceType="instance", ResourceIds=[iid], Tags=run_tag)
    found = call(DescribeInstancesRequest, Tags=run_tag)["Instances"]["Instance"]
    check("DescribeInstances filters by tag", [i["InstanceId"] for i in found] == [iid])
    check("DescribeInstances with another tag finds nothing",
          call(DescribeInstancesRequest, Tags=[{"Key": "kiln:run", "Value": "other"}])["Instances"]["Instance"] == [])
    check("DescribeKeyPairs with a tag no key pair has finds nothing",
          call(DescribeKeyPairsRequest, Tags=run_tag)["KeyPairs"]["KeyPair"] == [])

    from_snap = call(CreateImageRequest, SnapshotId=snap, ImageName=IMAGE_NAME + "-system")["ImageId"]
    wait("image of the snapshot Available", lambda: image(from_snap, REGION)["Status"] == "Available")
    maps = image(from_snap, REGION)["DiskDeviceMappings"]["DiskDeviceMapping"]
    check("the image of a snapshot is made of it alone", [m["SnapshotId"] for m in maps] == [snap], maps)
    enc = call(CopyImageRequest, ImageId=img, DestinationRegionId=REGION, DestinationImageName=IMAGE_NAME + "-enc",
               Encrypted=True)["ImageId"]
    wait("encrypted copy Available", lambda: image(enc, REGION)["Status"] == "Available")
    enc_snaps = [m["SnapshotId"] for m in image(enc, REGION)["DiskDeviceMappings"]["DiskDeviceMapping"]]
    check("the same-region copy's snapshot is encrypted", snapshot(enc_snaps[0])["Encrypted"] is True)
    check("the source image's snapshot is not",
          snapshot(image(img, REGION)["DiskDeviceMappings"]["DiskDeviceMapping"][0]["SnapshotId"])["Encrypted"] is False)
    for i, sids in ((from_snap, [snap]), (enc, enc_snaps)):
        call(DeleteImageRequest, ImageId=i)
        for sid in sids:
            call(DeleteSnapshotRequest, SnapshotId=sid)


def tea_flow(img, copied, snaps):
    """The Tea SDK: ACS3-HMAC-SHA256 by default, v1 with signature_algorithm v2."""
    from alibabacloud_ecs20140526 import models
    from alibabacloud_ecs20140526.client import Client
    from alibabacloud_tea_openapi.models import Config

    def tea(secret=SK, algo=None):
        cfg = Config(access_key_id=AK, access_key_secret=secret, endpoint=HOSTPORT, protocol=SCHEME, region_id=REGION)
        if algo:
            cfg.signature_algorithm = algo
        return Client(cfg)

    acs3 = tea()
    got = acs3.describe_images(models.DescribeImagesRequest(region_id=REGION, image_id=img))
    check("Tea SDK (ACS3-HMAC-SHA256) parses DescribeImages", got.body.images.image[0].image_id == img)
    log = admin("/_fake/requests")
    check("the fake saw an ACS3-HMAC-SHA256 request", log[-1]["signature"] == "acs3", log[-1])
    v1 = tea(algo="v2")
    got = v1.describe_image_share_permission(models.DescribeImageSharePermissionRequest(region_id=REGION, image_id=img))
    check("Tea SDK (signature v1) parses DescribeImageSharePermission", got.body.accounts.account[0].aliyun_id == SHARE_ACCOUNT)
    check("the fake saw a v1 request from the Tea SDK", admin("/_fake/requests")[-1]["signature"] == "v1")
    expect_error("Tea SDK ACS3 with a wrong secret", "SignatureDoesNotMatch",
                 lambda: tea(secret="wrong").describe_regions(models.DescribeRegionsRequest()), 400)
    expect_error("DeleteSnapshot of an image's snapshot", "SnapshotCreatedImage",
                 lambda: acs3.delete_snapshot(models.DeleteSnapshotRequest(snapshot_id=snaps[0])), 403)
    expect_error("DeleteImage of a shared image without Force", "InvalidImageId.IsShared",
                 lambda: acs3.delete_image(models.DeleteImageRequest(region_id=REGION, image_id=img)), 403)
    acs3.modify_image_share_permission(models.ModifyImageSharePermissionRequest(
        region_id=REGION, image_id=img, remove_account=[SHARE_ACCOUNT]))
    acs3.delete_image(models.DeleteImageRequest(region_id=REGION, image_id=img))
    copy_snaps = [d["SnapshotId"] for d in image(copied, COPY_REGION)["DiskDeviceMappings"]["DiskDeviceMapping"]]
    acs3.delete_image(models.DeleteImageRequest(region_id=COPY_REGION, image_id=copied))
    for s in snaps:
        call(DeleteSnapshotRequest, SnapshotId=s)
    for s in copy_snaps:
        call(DeleteSnapshotRequest, region=COPY_REGION, SnapshotId=s)
    check("no snapshot is left", call(DescribeSnapshotsRequest)["TotalCount"] == 0
          and call(DescribeSnapshotsRequest, region=COPY_REGION)["TotalCount"] == 0)


def signature_rejections():
    fixed = parameter_helper.get_uuid()
    real_uuid, real_date = parameter_helper.get_uuid, parameter_helper.get_iso_8061_date
    parameter_helper.get_uuid = lambda: fixed
    try:
        call(DescribeRegionsRequest)
        expect_error("a reused SignatureNonce", "SignatureNonceUsed", lambda: call(DescribeRegionsRequest), 400)
    finally:
        parameter_helper.get_uuid = real_uuid
    parameter_helper.get_iso_8061_date = lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    try:
        expect_error("a timestamp an hour old", "InvalidTimeStamp.Expired", lambda: call(DescribeRegionsRequest), 400)
    finally:
        parameter_helper.get_iso_8061_date = real_date
    # aliyun-python-sdk-core compares the server's string to sign (in the
    # SignatureDoesNotMatch message) with its own; equal strings mean the
    # secret is wrong, which it reports as InvalidAccessKeySecret.
    expect_error("a wrong secret (the SDK's string to sign matches the fake's)", "InvalidAccessKeySecret",
                 lambda: call(DescribeRegionsRequest, cli=client(secret=SK + "x")), 400)
    expect_error("an unknown access key", "InvalidAccessKeyId.NotFound",
                 lambda: call(DescribeRegionsRequest, cli=client(ak="LTAInobody")), 404)
    expect_error("an unknown action", "InvalidAction.NotFound", lambda: common("DescribeNothing", "2014-05-26"), 404)


def import_flow():
    """alicloud-import's path: RAM role check, OSS upload, ImportImage."""
    import oss2

    role = common("GetRole", "2015-05-01", region=None, RoleName="AliyunECSImageImportDefaultRole")
    check("RAM GetRole finds the image import role", role["Role"]["RoleName"] == "AliyunECSImageImportDefaultRole")
    expect_error("RAM GetRole of a missing role", "EntityNotExist.Role",
                 lambda: common("GetRole", "2015-05-01", region=None, RoleName="NoSuchRole"), 404)
    bucket = oss2.Bucket(oss2.Auth(AK, SK), ENDPOINT, "kiln-import-bucket")
    bucket.create_bucket()
    check("oss2 bucket exists after create", bucket.bucket_exists() if hasattr(bucket, "bucket_exists") else True)
    rule = oss2.models.TaggingRule()
    rule.add("kiln:run", "r-1")
    bucket.put_bucket_tagging(oss2.models.Tagging(rule))
    check("oss2 put_bucket_tagging tags the bucket", bucket.get_bucket_tagging().tag_set.tagging_rule == {"kiln:run": "r-1"})
    bucket.delete_bucket_tagging()
    check("oss2 delete_bucket_tagging clears them", bucket.get_bucket_tagging().tag_set.tagging_rule == {})
    bucket.put_object("disk.raw", b"x" * 4096, headers={"x-oss-tagging": "kiln%3Arun=r-1&team=kiln"})
    check("oss2 get_object returns the bytes", bucket.get_object("disk.raw").read() == b"x" * 4096)
    held = [o for o in admin("/_fake/resources")["object"] if o["Key"] == "disk.raw"]
    check("oss2 put_object's x-oss-tagging tags the object", held and held[0]["Tags"] == {"kiln:run": "r-1", "team": "kiln"},
          json.dumps(held))
    got = bucket.get_object_tagging("disk.raw")
    check("oss2 get_object_tagging reads the tags", got.tag_set.tagging_rule == {"kiln:run": "r-1", "team": "kiln"},
          str(got.tag_set.tagging_rule))
    bucket.delete_object_tagging("disk.raw")
    check("oss2 delete_object_tagging clears them, the object stays",
          bucket.get_object_tagging("disk.raw").tag_set.tagging_rule == {}
          and bucket.get_object("disk.raw").read() == b"x" * 4096)
    key = "big.qcow2"
    up = bucket.init_multipart_upload(key, headers={"x-oss-tagging": "kiln%3Arun=r-2"}).upload_id
    parts = []
    for n, chunk in enumerate([b"a" * 100 * 1024, b"b" * 100 * 1024, b"c" * 10], start=1):
        r = bucket.upload_part(key, up, n, chunk)
        parts.append(oss2.models.PartInfo(n, r.etag))
    bucket.complete_multipart_upload(key, up, parts)
    meta = bucket.head_object(key)
    check("oss2 multipart upload assembles the parts", meta.content_length == 200 * 1024 + 10)
    held = [o for o in admin("/_fake/resources")["object"] if o["Key"] == key]
    check("oss2 init_multipart_upload's x-oss-tagging tags the object", held and held[0]["Tags"] == {"kiln:run": "r-2"},
          json.dumps(held))
    bad = oss2.Bucket(oss2.Auth(AK, SK + "x"), ENDPOINT, "kiln-import-bucket")
    try:
        bad.get_object("disk.raw")
        check("oss2 with a wrong secret -> SignatureDoesNotMatch", False, "(no error)")
    except oss2.exceptions.ServerError as e:
        check("oss2 with a wrong secret -> SignatureDoesNotMatch", e.code == "SignatureDoesNotMatch", e.code)

    # A role of its own: without the import policy, ECS cannot read OSS as it.
    mapping = [{"OSSBucket": "kiln-import-bucket", "OSSObject": key, "DiskImageSize": "40", "Format": "QCOW2"}]
    policy = json.dumps({"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow",
                                        "Principal": {"Service": ["ecs.aliyuncs.com"]}}], "Version": "1"})
    made = common("CreateRole", "2015-05-01", region=None, RoleName="KilnScenarioImportRole",
                  AssumeRolePolicyDocument=policy)
    check("RAM CreateRole makes the role", made["Role"]["RoleName"] == "KilnScenarioImportRole")
    expect_error("ImportImage as a role without the import policy", "NoSetRoletoECSServiceAcount",
                 lambda: call(ImportImageRequest, region=IMPORT_REGION, ImageName="kiln-no-policy",
                              RoleName="KilnScenarioImportRole", DiskDeviceMappings=mapping), 403)
    listed = common("ListPoliciesForRole", "2015-05-01", region=None, RoleName="KilnScenarioImportRole")
    check("RAM ListPoliciesForRole of a new role is empty", listed["Policies"]["Policy"] == [])
    common("AttachPolicyToRole", "2015-05-01", region=None, RoleName="KilnScenarioImportRole",
           PolicyName="AliyunECSImageImportRolePolicy", PolicyType="System")
    updated = common("UpdateRole", "2015-05-01", region=None, RoleName="KilnScenarioImportRole",
                     NewAssumeRolePolicyDocument=policy)
    check("RAM UpdateRole answers the role", updated["Role"]["AssumeRolePolicyDocument"] == policy)
    out = call(ImportImageRequest, region=IMPORT_REGION, ImageName="kiln-imported", OSType="linux", Platform="Others Linux",
               Architecture="x86_64", RoleName="KilnScenarioImportRole", DiskDeviceMappings=mapping,
               Tags=[{"Key": "kiln:run", "Value": "r-3"}])
    imported = out["ImageId"]
    check("ImportImage returns an image and a task", imported.startswith("m-") and out["TaskId"])
    disk = image(imported, IMPORT_REGION)["DiskDeviceMappings"]["DiskDeviceMapping"][0]
    check("DescribeImages shows the import's disk mapping",
          (disk["ImportOSSBucket"], disk["ImportOSSObject"], disk["Format"], disk["Size"])
          == ("kiln-import-bucket", key, "QCOW2", "40"), json.dumps(disk))
    tags = image(imported, IMPORT_REGION)["Tags"]["Tag"]
    check("ImportImage's Tag.N tags the image", [(t["TagKey"], t["TagValue"]) for t in tags] == [("kiln:run", "r-3")],
          json.dumps(tags))
    wait("imported image Available", lambda: image(imported, IMPORT_REGION)["Status"] == "Available")
    snaps = [d["SnapshotId"] for d in image(imported, IMPORT_REGION)["DiskDeviceMappings"]["DiskDeviceMapping"]]
    call(DeleteImageRequest, region=IMPORT_REGION, ImageId=imported)
    for s in snaps:
        call(DeleteSnapshotRequest, region=IMPORT_REGION, SnapshotId=s)
    for k in ("disk.raw", key):
        bucket.delete_object(k)
    try:
        bucket.get_object("disk.raw")
        check("oss2 get of a deleted object -> NoSuchKey", False)
    except oss2.exceptions.NoSuchKey:
        check("oss2 get of a deleted object -> NoSuchKey", True)
    bucket.delete_bucket()


def https_flow(endpoint, ca):
    cli = AcsClient(AK, SK, REGION, auto_retry=False, max_retry_time=0, timeout=15, verify=ca)
    req = DescribeRegionsRequest.DescribeRegionsRequest()
    req.set_endpoint(urlsplit(endpoint).netloc)
    req.set_protocol_type("https")
    req.set_accept_format("json")
    out = json.loads(cli.do_action_with_exception(req))
    check("DescribeRegions over HTTPS, verified against the fake's CA", len(out["Regions"]["Region"]) > 20)
    check("the fake saw it over HTTPS", admin("/_fake/requests")[-1]["scheme"] == "https")


def main():
    try:
        if len(sys.argv) > 3:
            https_flow(sys.argv[2], sys.argv[3])
        img, copied, snaps = build_flow()
        tea_flow(img, copied, snaps)
        signature_rejections()
        import_flow()
        left = admin("/_fake/resources")
        held = {k: v for k, v in left.items() if v and k not in ("role", "task")}
        check("the fake holds nothing after teardown", held == {}, json.dumps(held)[:2000])
    except Exception:
        traceback.print_exc()
        check("the scenario ran to the end", False)
    finish()


if __name__ == "__main__":
    main()
