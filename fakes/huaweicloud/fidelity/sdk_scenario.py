#!/usr/bin/env python3
"""Drives the FAKE Huawei Cloud API with Huawei's own Python SDK
(huaweicloudsdkecs, huaweicloudsdkims, huaweicloudsdkvpc, huaweicloudsdkeip,
huaweicloudsdkiam) through the calls of a whole `huaweicloud-ecs` build, in
the plugin's order (the project looked up through IAM, a server with data
disks, a system image and a full-ECS one), plus bad signatures and
throttling: the SDK signs every request and
parses every answer, so a fake that drifts from Huawei's wire format fails
here.

    sdk_scenario.py --endpoint URL --ak AK --project PROJECT [--ca CA]
    (the secret key comes from $HUAWEICLOUD_SK)

Prints one line per step and `scenario ok` at the end; exits non-zero on the
first mismatch.
"""

import argparse
import json
import os
import sys
import time
import urllib.request

from huaweicloudsdkcore.auth.credentials import BasicCredentials, GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkecs.v2 import EcsClient
from huaweicloudsdkecs.v2 import model as ecsm
from huaweicloudsdkeip.v2 import EipClient
from huaweicloudsdkeip.v2 import model as eipm
from huaweicloudsdkiam.v3 import IamClient
from huaweicloudsdkiam.v3 import model as iamm
from huaweicloudsdkims.v2 import ImsClient
from huaweicloudsdkims.v2 import model as imsm
from huaweicloudsdkvpc.v2 import VpcClient
from huaweicloudsdkvpc.v2 import model as vpcm


def step(msg):
    print(msg, flush=True)


def check(cond, msg):
    if not cond:
        raise SystemExit(f"fidelity: {msg}")


def wait(what, fn, want, timeout=60):
    deadline = time.time() + timeout
    while True:
        got = fn()
        if got == want:
            return
        check(time.time() < deadline, f"{what} did not reach {want} (last {got})")
        time.sleep(0.1)


def clients(endpoint, ak, sk, project, ca):
    cfg = HttpConfig.get_default_config()
    cfg.retry_times = 0
    if ca:
        cfg.ssl_ca_cert = ca
    cred = BasicCredentials(ak, sk, project)

    def build(cls):
        return cls.new_builder().with_http_config(cfg).with_credentials(cred).with_endpoint(endpoint).build()
    return build(EcsClient), build(ImsClient), build(VpcClient), build(EipClient)


def iam_client(endpoint, ak, sk, ca, domain_id=None):
    """IAM with the account's (global) credentials, as the plugin's
    `getProjectID` makes it."""
    cfg = HttpConfig.get_default_config()
    cfg.retry_times = 0
    if ca:
        cfg.ssl_ca_cert = ca
    cred = GlobalCredentials(ak, sk, domain_id).with_iam_endpoint(endpoint)
    return IamClient.new_builder().with_http_config(cfg).with_credentials(cred).with_endpoint(endpoint).build()


def admin(endpoint, path, body=None, method=None):
    # Admin calls go over plain HTTP only when the endpoint is; the Rust
    # test passes the HTTP admin URL separately.
    req = urllib.request.Request(endpoint + path, data=json.dumps(body).encode() if body is not None else None,
                                 method=method or ("POST" if body is not None else "GET"),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def expect_error(fn, status, code):
    try:
        fn()
    except ClientRequestException as e:
        check(e.status_code == status and e.error_code == code,
              f"expected {status} {code}, got {e.status_code} {e.error_code}: {e.error_msg}")
        return e
    raise SystemExit(f"fidelity: expected {status} {code}, the call succeeded")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--admin", required=True, help="the fake's plain-HTTP URL for /_fake/ calls")
    ap.add_argument("--ak", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--member", default="a" * 32)
    ap.add_argument("--region", default="cn-north-4", help="the fake's default region (its project's name)")
    ap.add_argument("--vault", required=True, help="the CBR vault the fake seeds")
    ap.add_argument("--data-image", required=True, help="the shared data disk image the fake seeds")
    ap.add_argument("--ca")
    a = ap.parse_args()
    sk = os.environ["HUAWEICLOUD_SK"]
    ecs, ims, vpc, eip = clients(a.endpoint, a.ak, sk, a.project, a.ca)

    # Wrong secret, unknown key: the gateway's 401 APIGW.0301.
    bad_ecs = clients(a.endpoint, a.ak, sk + "x", a.project, a.ca)[0]
    expect_error(lambda: bad_ecs.nova_list_availability_zones(ecsm.NovaListAvailabilityZonesRequest()),
                 401, "APIGW.0301")
    other = clients(a.endpoint, "NOSUCHKEY", sk, a.project, a.ca)[1]
    expect_error(lambda: other.list_images(imsm.ListImagesRequest()), 401, "APIGW.0301")
    step("bad signatures: 401 APIGW.0301")

    # Throttling as the gateway answers it, then the call goes through.
    admin(a.admin, "/_fake/faults", {"action": "NovaListAvailabilityZones", "code": "APIGW.0308", "status": 429})
    # The SDK's urllib3 takes any 429 as "too many 429 error responses"
    # and reports code "429", whatever the body says (its
    # `process_retry_error`); the body is Rust's to read.
    expect_error(lambda: ecs.nova_list_availability_zones(ecsm.NovaListAvailabilityZonesRequest()), 429, "429")
    admin(a.admin, "/_fake/faults", {"action": "CreatePostPaidServers", "code": "Ecs.0000", "status": 500})
    step("throttling: 429")

    # The plugin's AccessConfig.Prepare without `project_id`: the project
    # named as the region, through IAM.
    iam = iam_client(a.endpoint, a.ak, sk, a.ca)
    projects = iam.keystone_list_projects(iamm.KeystoneListProjectsRequest(name=a.region)).projects
    check([(p.id, p.name) for p in projects] == [(a.project, a.region)], f"projects named {a.region}: {projects}")
    none = iam.keystone_list_projects(iamm.KeystoneListProjectsRequest(name="no-such-project")).projects
    check(none == [], f"projects named no-such-project: {none}")
    domains = iam.keystone_list_auth_domains(iamm.KeystoneListAuthDomainsRequest()).domains
    check([d.id for d in domains] == [projects[0].domain_id], f"the account's domains: {domains}")
    step(f"project {projects[0].id} of {a.region} (domain {projects[0].domain_id})")

    # StepLoadAZ, StepLoadFlavor.
    zones = ecs.nova_list_availability_zones(ecsm.NovaListAvailabilityZonesRequest()).availability_zone_info
    names = [z.zone_name for z in zones if z.zone_state.available]
    check(len(names) >= 1, f"no zones: {zones}")
    az = names[0]
    flavors = ecs.list_flavors(ecsm.ListFlavorsRequest(availability_zone=az)).flavors
    check(any(f.id == "s6.small.1" for f in flavors), "flavor s6.small.1 missing")
    step(f"zones {names}, flavors {len(flavors)}")

    # StepKeyPair (the cloud makes the key).
    kp = ecs.nova_create_keypair(ecsm.NovaCreateKeypairRequest(body=ecsm.NovaCreateKeypairRequestBody(
        keypair=ecsm.NovaCreateKeypairOption(name="packer_fidelity")))).keypair
    check(kp.private_key.startswith("-----BEGIN RSA PRIVATE KEY-----") and kp.fingerprint, "key pair blank")
    expect_error(lambda: ecs.nova_create_keypair(ecsm.NovaCreateKeypairRequest(body=ecsm.NovaCreateKeypairRequestBody(
        keypair=ecsm.NovaCreateKeypairOption(name="packer_fidelity")))), 409, "Ecs.0317")
    step("key pair")

    # StepSourceImageInfo.
    imgs = ims.list_images(imsm.ListImagesRequest(name="Ubuntu 22.04 server 64bit", imagetype="gold",
                                                  status="active", sort_key="created_at", sort_dir="desc")).images
    check(len(imgs) == 1, f"source image: {imgs}")
    source = imgs[0].id
    step(f"source image {source}")

    # StepCreateNetwork.
    v = vpc.create_vpc(vpcm.CreateVpcRequest(body=vpcm.CreateVpcRequestBody(
        vpc=vpcm.CreateVpcOption(name="vpc-packer-abcdef", cidr="172.16.0.0/16")))).vpc
    wait("vpc", lambda: vpc.show_vpc(vpcm.ShowVpcRequest(vpc_id=v.id)).vpc.status, "OK")
    vpc.create_vpc_resource_tag(vpcm.CreateVpcResourceTagRequest(vpc_id=v.id, body=vpcm.CreateVpcResourceTagRequestBody(
        tag=vpcm.ResourceTag(key="kiln-run", value="fidelity"))))
    sn = vpc.create_subnet(vpcm.CreateSubnetRequest(body=vpcm.CreateSubnetRequestBody(subnet=vpcm.CreateSubnetOption(
        name="subnet-packer-abcdef", cidr="172.16.0.0/24", gateway_ip="172.16.0.1", vpc_id=v.id)))).subnet
    wait("subnet", lambda: vpc.show_subnet(vpcm.ShowSubnetRequest(subnet_id=sn.id)).subnet.status, "ACTIVE")
    sg = vpc.create_security_group(vpcm.CreateSecurityGroupRequest(body=vpcm.CreateSecurityGroupRequestBody(
        security_group=vpcm.CreateSecurityGroupOption(name="packer-sg", vpc_id=v.id)))).security_group
    check(len(sg.security_group_rules) == 2, "default egress rules missing")
    rule = vpc.create_security_group_rule(vpcm.CreateSecurityGroupRuleRequest(
        body=vpcm.CreateSecurityGroupRuleRequestBody(security_group_rule=vpcm.CreateSecurityGroupRuleOption(
            security_group_id=sg.id, direction="ingress", ethertype="IPv4", protocol="tcp", port_range_min=22,
            port_range_max=22, remote_ip_prefix="0.0.0.0/0")))).security_group_rule
    check(rule.port_range_min == 22, "rule")
    step("network")

    # StepCreatePublicipIP.
    ip = eip.create_publicip(eipm.CreatePublicipRequest(body=eipm.CreatePublicipRequestBody(
        publicip=eipm.CreatePublicipOption(type="5_bgp"),
        bandwidth=eipm.CreatePublicipBandwidthOption(name="packer_eip_bandwidth", size=5, share_type="PER",
                                                    charge_mode="traffic")))).publicip
    wait("eip", lambda: eip.show_publicip(eipm.ShowPublicipRequest(publicip_id=ip.id)).publicip.status, "DOWN")
    step(f"eip {ip.public_ip_address}")

    # StepRunSourceServer (the first create is the injected Ecs.0000).
    body = ecsm.CreatePostPaidServersRequestBody(server=ecsm.PostPaidServer(
        name="packer-fidelity", image_ref=source, flavor_ref="s6.small.1", key_name="packer_fidelity", vpcid=v.id,
        nics=[ecsm.PostPaidServerNic(subnet_id=sn.id)],
        security_groups=[ecsm.PostPaidServerSecurityGroup(id=sg.id)], availability_zone=az,
        root_volume=ecsm.PostPaidServerRootVolume(volumetype="SSD", size=40),
        data_volumes=[ecsm.PostPaidServerDataVolume(volumetype="GPSSD", size=100),
                      ecsm.PostPaidServerDataVolume(volumetype="SSD", size=20, data_image_id=a.data_image)],
        publicip=ecsm.PostPaidServerPublicip(id=ip.id), user_data="",
        server_tags=[ecsm.PostPaidServerTag(key="kiln-run", value="fidelity")],
        extendparam=ecsm.PostPaidServerExtendParam(charging_mode=0)))
    try:
        ecs.create_post_paid_servers(ecsm.CreatePostPaidServersRequest(body=body))
        raise SystemExit("fidelity: the injected Ecs.0000 did not fire")
    except Exception as e:
        check(getattr(e, "status_code", 0) == 500 and getattr(e, "error_code", "") == "Ecs.0000", f"{e}")
    # A data volume smaller than its data image, or of an unknown image.
    small = ecsm.PostPaidServerDataVolume(volumetype="SSD", size=10, data_image_id=a.data_image)
    bad_body = ecsm.CreatePostPaidServersRequestBody(server=ecsm.PostPaidServer(
        name="packer-fidelity-bad", image_ref=source, flavor_ref="s6.small.1", vpcid=v.id,
        nics=[ecsm.PostPaidServerNic(subnet_id=sn.id)], availability_zone=az,
        root_volume=ecsm.PostPaidServerRootVolume(volumetype="SSD"), data_volumes=[small]))
    expect_error(lambda: ecs.create_post_paid_servers(ecsm.CreatePostPaidServersRequest(body=bad_body)),
                 400, "Ecs.0050")
    small.size, small.data_image_id = 20, source
    expect_error(lambda: ecs.create_post_paid_servers(ecsm.CreatePostPaidServersRequest(body=bad_body)),
                 400, "Ecs.0023")
    created = ecs.create_post_paid_servers(ecsm.CreatePostPaidServersRequest(body=body))

    def job_status(client, jid):
        return client.show_job(type(client) is EcsClient and ecsm.ShowJobRequest(job_id=jid)
                               or imsm.ShowJobRequest(job_id=jid)).status
    wait("server job", lambda: job_status(ecs, created.job_id), "SUCCESS")
    job = ecs.show_job(ecsm.ShowJobRequest(job_id=created.job_id))
    sid = job.entities.sub_jobs[0].entities.server_id
    check(sid == created.server_ids[0], "job's server id")
    server = ecs.show_server(ecsm.ShowServerRequest(server_id=sid)).server
    check(server.status == "ACTIVE", "server not ACTIVE")
    disks = [(v.device, v.boot_index) for v in server.os_extended_volumesvolumes_attached]
    check(disks == [("/dev/vda", "0"), ("/dev/vdb", None), ("/dev/vdc", None)], f"volumes {disks}")
    volumes = admin(a.admin, "/_fake/resources")["volume"]
    check(sorted((x["size"], x["volume_type"]) for x in volumes) == [(20, "SSD"), (40, "SSD"), (100, "GPSSD")],
          f"volumes {volumes}")
    nics = ecs.list_server_interfaces(ecsm.ListServerInterfacesRequest(server_id=sid)).interface_attachments
    port = nics[0].port_id
    check(nics[0].fixed_ips[0].ip_address.startswith("172.16.0."), "private ip")
    listed = ecs.list_servers_details(ecsm.ListServersDetailsRequest(tags="kiln-run=fidelity")).servers
    check([s.id for s in listed] == [sid], "servers by tag")
    step(f"server {sid}")

    # StepAssociatePublicipIP.
    eip.update_publicip(eipm.UpdatePublicipRequest(publicip_id=ip.id, body=eipm.UpdatePublicipsRequestBody(
        publicip=eipm.UpdatePublicipOption(port_id=port))))
    check(eip.show_publicip(eipm.ShowPublicipRequest(publicip_id=ip.id)).publicip.port_id == port, "eip bound")
    expect_error(lambda: eip.delete_publicip(eipm.DeletePublicipRequest(publicip_id=ip.id)), 409, "EIP.7902")
    step("eip associated")

    # StepStopServer.
    stop = ecs.batch_stop_servers(ecsm.BatchStopServersRequest(body=ecsm.BatchStopServersRequestBody(
        os_stop=ecsm.BatchStopServersOption(servers=[ecsm.ServerId(id=sid)], type="SOFT"))))
    wait("stop job", lambda: job_status(ecs, stop.job_id), "SUCCESS")
    check(ecs.show_server(ecsm.ShowServerRequest(server_id=sid)).server.status == "SHUTOFF", "server not SHUTOFF")
    step("stopped")

    # stepCreateImage, image_min_disk, image_tags, stepAddImageMembers.
    ci = ims.create_image(imsm.CreateImageRequest(body=imsm.CreateImageRequestBody(
        name="packer-fidelity-image", instance_id=sid, description="",
        image_tags=[imsm.TagKeyValue(key="kiln-run", value="fidelity")])))
    wait("image job", lambda: job_status(ims, ci.job_id), "SUCCESS")
    image_id = ims.show_job(imsm.ShowJobRequest(job_id=ci.job_id)).entities.image_id
    found = ims.list_images(imsm.ListImagesRequest(id=image_id)).images
    check(len(found) == 1 and found[0].status == "active", f"image {found}")
    ims.glance_update_image(imsm.GlanceUpdateImageRequest(image_id=image_id, body=[
        imsm.GlanceUpdateImageRequestBody(op="replace", path="/min_disk", value=50)]))
    check(ims.glance_show_image(imsm.GlanceShowImageRequest(image_id=image_id)).min_disk == 50, "min_disk")
    tags = ims.list_image_tags(imsm.ListImageTagsRequest(image_id=image_id)).tags
    check([(t.key, t.value) for t in tags] == [("kiln-run", "fidelity")], f"image tags {tags}")
    # kiln's cleanup finds images by their run tag, and takes it off the
    # finished image (`release`).
    tagged = ims.list_images(imsm.ListImagesRequest(tag="kiln-run=fidelity")).images
    check(image_id in [i.id for i in tagged], f"images by tag {tagged}")
    ims.delete_image_tag(imsm.DeleteImageTagRequest(image_id=image_id, key="kiln-run"))
    check(ims.list_image_tags(imsm.ListImageTagsRequest(image_id=image_id)).tags == [], "tag deleted")
    untagged = ims.list_images(imsm.ListImagesRequest(tag="kiln-run=fidelity")).images
    check(image_id not in [i.id for i in untagged], f"images by tag after the delete {untagged}")
    expect_error(lambda: ims.delete_image_tag(imsm.DeleteImageTagRequest(image_id=image_id, key="kiln-run")),
                 404, "IMG.0027")
    ims.add_image_tag(imsm.AddImageTagRequest(image_id=image_id, body=imsm.AddImageTagRequestBody(
        tag=imsm.ResourceTag(key="kiln-run", value="fidelity"))))
    am = ims.batch_add_members(imsm.BatchAddMembersRequest(body=imsm.BatchAddMembersRequestBody(
        images=[image_id], projects=[a.member])))
    wait("members job", lambda: job_status(ims, am.job_id), "SUCCESS")
    members = ims.glance_list_image_members(imsm.GlanceListImageMembersRequest(image_id=image_id)).members
    check([m.member_id for m in members] == [a.member], f"members {members}")
    step(f"image {image_id}")

    # stepCreateImage with `image_type` `full-ecs`: every disk, backed up
    # into the vault.
    expect_error(lambda: ims.create_whole_image(imsm.CreateWholeImageRequest(body=imsm.CreateWholeImageRequestBody(
        name="packer-fidelity-whole", instance_id=sid, vault_id="no-such-vault"))), 400, "IMG.0229")
    cw = ims.create_whole_image(imsm.CreateWholeImageRequest(body=imsm.CreateWholeImageRequestBody(
        name="packer-fidelity-whole", instance_id=sid, description="", vault_id=a.vault,
        image_tags=[imsm.TagKeyValue(key="kiln-run", value="fidelity")])))
    wait("whole image job", lambda: job_status(ims, cw.job_id), "SUCCESS")
    whole_id = ims.show_job(imsm.ShowJobRequest(job_id=cw.job_id)).entities.image_id
    whole = ims.list_images(imsm.ListImagesRequest(id=whole_id)).images
    check(len(whole) == 1 and whole[0].status == "active" and whole[0].backup_id, f"whole {whole}")
    step(f"whole image {whole_id}")

    # Cleanup in reverse: server, EIP, network, key pair; then the image.
    d = ecs.delete_servers(ecsm.DeleteServersRequest(body=ecsm.DeleteServersRequestBody(
        servers=[ecsm.ServerId(id=sid)], delete_volume=True, delete_publicip=False)))
    wait("delete job", lambda: job_status(ecs, d.job_id), "SUCCESS")
    expect_error(lambda: ecs.show_server(ecsm.ShowServerRequest(server_id=sid)), 404, "Ecs.0114")
    eip.delete_publicip(eipm.DeletePublicipRequest(publicip_id=ip.id))
    vpc.delete_security_group(vpcm.DeleteSecurityGroupRequest(security_group_id=sg.id))
    expect_error(lambda: vpc.delete_vpc(vpcm.DeleteVpcRequest(vpc_id=v.id)), 409, "VPC.0016")
    vpc.delete_subnet(vpcm.DeleteSubnetRequest(vpc_id=v.id, subnet_id=sn.id))
    vpc.delete_vpc(vpcm.DeleteVpcRequest(vpc_id=v.id))
    expect_error(lambda: vpc.show_vpc(vpcm.ShowVpcRequest(vpc_id=v.id)), 404, "VPC.0101")
    ecs.nova_delete_keypair(ecsm.NovaDeleteKeypairRequest(keypair_name="packer_fidelity"))
    ims.glance_delete_image(imsm.GlanceDeleteImageRequest(image_id=image_id))
    ims.glance_delete_image(imsm.GlanceDeleteImageRequest(image_id=whole_id))
    left = admin(a.admin, "/_fake/resources")
    check(all(not rows for rows in left.values()), f"left behind: {left}")
    step("cleaned up")
    print("scenario ok", flush=True)


if __name__ == "__main__":
    sys.exit(main())
