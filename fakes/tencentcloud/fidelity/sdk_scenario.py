#!/usr/bin/env python3
"""Drives the FAKE Tencent Cloud API with Tencent's own Python SDK.

Proves the fake's fidelity: tencentcloud-sdk-python (common, cvm, vpc) signs
requests its own way (TC3-HMAC-SHA256, over POST with a JSON body and over
GET with a query string) and parses the fake's answers its own way. It runs
what a tencentcloud-cvm build does (zones, source image, key pair, VPC,
subnet, security group + policies, run instance, wait RUNNING, detach the key
pair with ForceStop, create image, wait NORMAL, share, sync to another
region, teardown) and the rejections (wrong secret, unknown SecretId, skewed
clock, operation in progress, duplicate image name, resource in use, an
injected RequestLimitExceeded) as the SDK's TencentCloudSDKException with
Tencent's codes.

Usage: sdk_scenario.py HTTP_ENDPOINT [HTTPS_ENDPOINT CA_PEM]
  (e.g. http://127.0.0.1:8080 https://127.0.0.1:8443 /tmp/.../ca.pem); with
  the HTTPS pair one call also goes over TLS, verified against the CA.
Environment: TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY (the fake's key).
Prints one line per check and `N passed, N failed`; exits 1 on a failure.
"""

import json
import os
import sys
import time
import traceback
from unittest import mock
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
from checks import check, finish  # noqa: E402  (fakes/shared: a scenario's tally)

from tencentcloud.common import credential  # noqa: E402
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException  # noqa: E402
from tencentcloud.common.profile.client_profile import ClientProfile  # noqa: E402
from tencentcloud.common.profile.http_profile import HttpProfile  # noqa: E402
from tencentcloud.cvm.v20170312 import cvm_client, models as cvm  # noqa: E402
from tencentcloud.vpc.v20170312 import vpc_client, models as vpc  # noqa: E402

ENDPOINT = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
SID = os.environ.get("TENCENTCLOUD_SECRET_ID", "AKIDfakesecretid")
SKEY = os.environ.get("TENCENTCLOUD_SECRET_KEY", "fakesecretkey")
REGION, COPY_REGION = "ap-guangzhou", "ap-shanghai"
ZONE = REGION + "-3"
SOURCE_IMAGE = "img-pi0ii46r"
IMAGE_NAME = f"kiln-sdk-scenario-{int(time.time())}"
SHARE_ACCOUNT = "100022223333"
TOKEN = f"kiln-sdk-{time.time()}"


def profile(endpoint=ENDPOINT, method="POST", ca=None):
    u = urlsplit(endpoint)
    hp = HttpProfile(protocol=u.scheme, endpoint=u.netloc, reqMethod=method, reqTimeout=15)
    if ca:
        hp.certification = ca
    return ClientProfile(httpProfile=hp)


def cvmc(region=REGION, sid=SID, key=SKEY, endpoint=ENDPOINT, method="POST", ca=None):
    return cvm_client.CvmClient(credential.Credential(sid, key), region, profile(endpoint, method, ca))


def vpcc(region=REGION, method="POST"):
    return vpc_client.VpcClient(credential.Credential(SID, SKEY), region, profile(method=method))


def req(model, **fields):
    r = model()
    r.from_json_string(json.dumps(fields))
    return r


def error_code(fn):
    try:
        fn()
    except TencentCloudSDKException as e:
        return e.get_code()
    return None


def wait(what, fn, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    check(f"wait: {what}", False, "timed out")
    return None


def admin(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    with urlopen(Request(ENDPOINT + path, data=data, method="POST" if data else "GET"), timeout=10) as r:
        return json.loads(r.read())


def instance(c, iid):
    r = c.DescribeInstances(req(cvm.DescribeInstancesRequest, InstanceIds=[iid]))
    return r.InstanceSet[0] if r.TotalCount else None


def image_by_name(c, name):
    r = c.DescribeImages(req(cvm.DescribeImagesRequest, Filters=[{"Name": "image-name", "Values": [name]}]))
    return r.ImageSet[0] if r.TotalCount else None


def scenario():
    c, v = cvmc(), vpcc()
    zones = c.DescribeZones(cvm.DescribeZonesRequest())
    check("DescribeZones lists the zone", ZONE in [z.Zone for z in zones.ZoneSet])
    src = c.DescribeImages(req(cvm.DescribeImagesRequest, ImageIds=[SOURCE_IMAGE], InstanceType="S5.MEDIUM2"))
    check("DescribeImages finds the source image", src.TotalCount == 1 and src.ImageSet[0].ImageState == "NORMAL")
    get = cvmc(method="GET").DescribeImages(
        req(cvm.DescribeImagesRequest, Filters=[{"Name": "image-type", "Values": ["PUBLIC_IMAGE"]}], Limit=2))
    check("a GET request (query string, TC3 over it) is signed and parsed", len(get.ImageSet) == 2 and get.TotalCount >= 4)

    key = c.CreateKeyPair(req(cvm.CreateKeyPairRequest, KeyName="kiln_sdk_scenario", ProjectId=0)).KeyPair
    check("CreateKeyPair returns a private key", key.KeyId.startswith("skey-") and "PRIVATE KEY" in key.PrivateKey)
    check("a second key pair of that name is InvalidKeyPairName.Duplicate",
          error_code(lambda: c.CreateKeyPair(req(cvm.CreateKeyPairRequest, KeyName="kiln_sdk_scenario", ProjectId=0)))
          == "InvalidKeyPairName.Duplicate")

    tags = [{"Key": "kiln-run", "Value": "sdk"}]
    net = v.CreateVpc(req(vpc.CreateVpcRequest, VpcName="kiln-sdk", CidrBlock="10.0.0.0/16", Tags=tags)).Vpc
    sub = v.CreateSubnet(req(vpc.CreateSubnetRequest, VpcId=net.VpcId, SubnetName="kiln-sdk",
                             CidrBlock="10.0.8.0/24", Zone=ZONE)).Subnet
    check("CreateVpc / CreateSubnet", net.VpcId.startswith("vpc-") and sub.SubnetId.startswith("subnet-"))
    check("DescribeVpcs finds it by tag", v.DescribeVpcs(req(vpc.DescribeVpcsRequest, Filters=[
        {"Name": "tag:kiln-run", "Values": ["sdk"]}])).TotalCount == 1)
    check("a subnet outside the VPC is InvalidParameterValue.SubnetRange", error_code(lambda: v.CreateSubnet(
        req(vpc.CreateSubnetRequest, VpcId=net.VpcId, SubnetName="x", CidrBlock="192.168.0.0/24", Zone=ZONE)))
          == "InvalidParameterValue.SubnetRange")
    sg = v.CreateSecurityGroup(req(vpc.CreateSecurityGroupRequest, GroupName="kiln-sdk",
                                   GroupDescription="securitygroup for packer")).SecurityGroup
    for direction in ("Ingress", "Egress"):
        v.CreateSecurityGroupPolicies(req(vpc.CreateSecurityGroupPoliciesRequest, SecurityGroupId=sg.SecurityGroupId,
                                          SecurityGroupPolicySet={direction: [{"CidrBlock": "0.0.0.0/0", "Action": "ACCEPT"}]}))
    pol = v.DescribeSecurityGroupPolicies(req(vpc.DescribeSecurityGroupPoliciesRequest, SecurityGroupId=sg.SecurityGroupId))
    check("security group with an ingress and an egress policy",
          len(pol.SecurityGroupPolicySet.Ingress) == 1 and len(pol.SecurityGroupPolicySet.Egress) == 1)

    run = c.RunInstances(req(
        cvm.RunInstancesRequest, Placement={"Zone": ZONE}, ImageId=SOURCE_IMAGE, InstanceChargeType="POSTPAID_BY_HOUR",
        InstanceType="S5.MEDIUM2", SystemDisk={"DiskType": "CLOUD_PREMIUM", "DiskSize": 50},
        VirtualPrivateCloud={"VpcId": net.VpcId, "SubnetId": sub.SubnetId},
        InternetAccessible={"InternetChargeType": "TRAFFIC_POSTPAID_BY_HOUR", "InternetMaxBandwidthOut": 1,
                            "PublicIpAssigned": True},
        InstanceName="kiln-sdk", LoginSettings={"KeyIds": [key.KeyId]}, SecurityGroupIds=[sg.SecurityGroupId],
        ClientToken=TOKEN, HostName="kiln-sdk", UserData="",
        TagSpecification=[{"ResourceType": "instance", "Tags": tags}]))
    iid = run.InstanceIdSet[0]
    again = c.RunInstances(req(
        cvm.RunInstancesRequest, Placement={"Zone": ZONE}, ImageId=SOURCE_IMAGE, InstanceType="S5.MEDIUM2",
        VirtualPrivateCloud={"VpcId": net.VpcId, "SubnetId": sub.SubnetId}, ClientToken=TOKEN))
    check("RunInstances is idempotent on ClientToken", again.InstanceIdSet == [iid])
    first = instance(c, iid)
    check("the instance starts PENDING with RunInstances OPERATING",
          first.InstanceState == "PENDING" and first.LatestOperation == "RunInstances"
          and first.LatestOperationState == "OPERATING", first.InstanceState)
    check("StopInstances while it launches is OperationDenied.InstanceOperationInProgress",
          error_code(lambda: c.StopInstances(req(cvm.StopInstancesRequest, InstanceIds=[iid])))
          == "OperationDenied.InstanceOperationInProgress")
    check("a VPC with a subnet cannot go: ResourceInUse",
          error_code(lambda: v.DeleteVpc(req(vpc.DeleteVpcRequest, VpcId=net.VpcId))) == "ResourceInUse")
    running = wait("instance RUNNING", lambda: (lambda i: i if i.InstanceState == "RUNNING" and
                                                i.LatestOperationState == "SUCCESS" else None)(instance(c, iid)))
    check("RUNNING with public and private addresses and the key",
          running and running.PublicIpAddresses and running.PrivateIpAddresses[0].startswith("10.0.8.")
          and running.LoginSettings.KeyIds == [key.KeyId])
    check("a key pair bound to an instance cannot be deleted",
          error_code(lambda: c.DeleteKeyPairs(req(cvm.DeleteKeyPairsRequest, KeyIds=[key.KeyId])))
          == "InvalidParameterValue.KeyPairNotSupported")
    check("DisassociateInstancesKeyPairs on a RUNNING instance needs ForceStop",
          error_code(lambda: c.DisassociateInstancesKeyPairs(req(
              cvm.DisassociateInstancesKeyPairsRequest, InstanceIds=[iid], KeyIds=[key.KeyId])))
          == "UnsupportedOperation.InstanceStateRunning")
    c.DisassociateInstancesKeyPairs(req(cvm.DisassociateInstancesKeyPairsRequest, InstanceIds=[iid],
                                        KeyIds=[key.KeyId], ForceStop=True))
    seen = set()

    def back():
        i = instance(c, iid)
        seen.add(i.InstanceState)
        return i if i.InstanceState == "RUNNING" and i.LatestOperationState == "SUCCESS" else None
    after = wait("instance RUNNING again after the detach", back)
    check("the forced detach stops and starts the instance", {"STOPPING", "STARTING"} & seen, seen)
    check("the key pair is detached", after and not after.LoginSettings.KeyIds)

    made = c.CreateImage(req(cvm.CreateImageRequest, ImageName=IMAGE_NAME, InstanceId=iid,
                             ImageDescription="kiln", ForcePoweroff="False", Sysprep="False"))
    check("CreateImage returns the image id", made.ImageId.startswith("img-"))
    check("CreateImage of the same name is InvalidImageName.Duplicate",
          error_code(lambda: c.CreateImage(req(cvm.CreateImageRequest, ImageName=IMAGE_NAME, InstanceId=iid)))
          == "InvalidImageName.Duplicate")
    check("the new image is CREATING", image_by_name(c, IMAGE_NAME).ImageState == "CREATING")
    check("sharing a CREATING image is InvalidImageId.IncorrectState", error_code(lambda: c.ModifyImageSharePermission(
        req(cvm.ModifyImageSharePermissionRequest, ImageId=made.ImageId, AccountIds=[SHARE_ACCOUNT],
            Permission="SHARE"))) == "InvalidImageId.IncorrectState")
    wait("image NORMAL", lambda: image_by_name(c, IMAGE_NAME).ImageState == "NORMAL")
    c.ModifyImageSharePermission(req(cvm.ModifyImageSharePermissionRequest, ImageId=made.ImageId,
                                     AccountIds=[SHARE_ACCOUNT], Permission="SHARE"))
    perm = c.DescribeImageSharePermission(req(cvm.DescribeImageSharePermissionRequest, ImageId=made.ImageId))
    check("the image is shared", [p.AccountId for p in perm.SharePermissionSet] == [SHARE_ACCOUNT])
    c.SyncImages(req(cvm.SyncImagesRequest, ImageIds=[made.ImageId], DestinationRegions=[COPY_REGION]))
    cc = cvmc(COPY_REGION)
    check("the copy is SYNCING in the other region", image_by_name(cc, IMAGE_NAME).ImageState == "SYNCING")
    copy = wait("copy NORMAL", lambda: (lambda i: i if i.ImageState == "NORMAL" else None)(image_by_name(cc, IMAGE_NAME)))
    check("the copy has its own id", copy and copy.ImageId != made.ImageId)

    # Teardown.
    check("a shared image cannot be deleted: InvalidImageId.InShared",
          error_code(lambda: c.DeleteImages(req(cvm.DeleteImagesRequest, ImageIds=[made.ImageId])))
          == "InvalidImageId.InShared")
    c.ModifyImageSharePermission(req(cvm.ModifyImageSharePermissionRequest, ImageId=made.ImageId,
                                     AccountIds=[SHARE_ACCOUNT], Permission="CANCEL"))
    c.DeleteImages(req(cvm.DeleteImagesRequest, ImageIds=[made.ImageId]))
    cc.DeleteImages(req(cvm.DeleteImagesRequest, ImageIds=[copy.ImageId]))
    check("both images are gone", image_by_name(c, IMAGE_NAME) is None and image_by_name(cc, IMAGE_NAME) is None)
    c.TerminateInstances(req(cvm.TerminateInstancesRequest, InstanceIds=[iid]))
    check("the instance is TERMINATING", instance(c, iid).InstanceState == "TERMINATING")
    check("a security group in use cannot go: ResourceInUse", error_code(lambda: v.DeleteSecurityGroup(
        req(vpc.DeleteSecurityGroupRequest, SecurityGroupId=sg.SecurityGroupId))) == "ResourceInUse")
    wait("instance gone", lambda: instance(c, iid) is None)
    c.DeleteKeyPairs(req(cvm.DeleteKeyPairsRequest, KeyIds=[key.KeyId]))
    v.DeleteSecurityGroup(req(vpc.DeleteSecurityGroupRequest, SecurityGroupId=sg.SecurityGroupId))
    v.DeleteSubnet(req(vpc.DeleteSubnetRequest, SubnetId=sub.SubnetId))
    v.DeleteVpc(req(vpc.DeleteVpcRequest, VpcId=net.VpcId))
    left = admin("/_fake/resources")
    check("nothing is left", all(not left[k] for k in left), json.dumps(left))


def rejections():
    check("a wrong secret key is AuthFailure.SignatureFailure",
          error_code(lambda: cvmc(key="wrong-secret").DescribeZones(cvm.DescribeZonesRequest()))
          == "AuthFailure.SignatureFailure")
    check("an unknown SecretId is AuthFailure.SecretIdNotFound",
          error_code(lambda: cvmc(sid="AKIDnobody").DescribeZones(cvm.DescribeZonesRequest()))
          == "AuthFailure.SecretIdNotFound")
    with mock.patch("time.time", return_value=time.time() - 3600):
        code = error_code(lambda: cvmc().DescribeZones(cvm.DescribeZonesRequest()))
    check("a clock an hour off is AuthFailure.SignatureExpire", code == "AuthFailure.SignatureExpire", code)
    check("an unknown region is UnsupportedRegion",
          error_code(lambda: cvmc(region="xx-nowhere").DescribeZones(cvm.DescribeZonesRequest())) == "UnsupportedRegion")
    check("an unknown image is InvalidImageId.NotFound", error_code(lambda: cvmc().RunInstances(req(
        cvm.RunInstancesRequest, ImageId="img-00000000", Placement={"Zone": ZONE}))) == "InvalidImageId.NotFound")
    admin("/_fake/faults", {"action": "DescribeZones", "code": "RequestLimitExceeded", "count": 1})
    check("an injected RequestLimitExceeded comes back as the SDK's error",
          error_code(lambda: cvmc().DescribeZones(cvm.DescribeZonesRequest())) == "RequestLimitExceeded")
    check("and the next call succeeds", len(cvmc().DescribeZones(cvm.DescribeZonesRequest()).ZoneSet) == 3)


def https(endpoint, ca):
    r = cvmc(endpoint=endpoint, ca=ca).DescribeZones(cvm.DescribeZonesRequest())
    check("a call over HTTPS, verified against the fake's CA", len(r.ZoneSet) == 3)


def main():
    steps = [scenario, rejections]
    if len(sys.argv) > 3:
        steps.append(lambda: https(sys.argv[2], sys.argv[3]))
    for step in steps:
        try:
            step()
        except Exception as e:  # a crash is a failure with its trace
            check(f"{getattr(step, '__name__', 'step')} ran", False, f"{e!r}\n{traceback.format_exc()}")
    log = admin("/_fake/requests")
    check("every request was TC3-signed", all(r["signature"] == "tc3" for r in log))
    finish()


if __name__ == "__main__":
    main()
