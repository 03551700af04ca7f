//! Fidelity of the FAKE Huawei Cloud API (fakes/huaweicloud): Huawei's own
//! Python SDKs (huaweicloudsdkecs, -ims, -vpc, -eip, -iam) sign and parse a
//! whole `huaweicloud-ecs` build's calls (the project looked up through
//! IAM, a server with data disks, a system and a full-ECS image), bad
//! signatures and throttling against it, over HTTPS with the fake's CA. Debian's packer 1.6.6 has no
//! huaweicloud builder, so the SDKs are the check: a change to the fake
//! that breaks a real Huawei client fails here.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use kiln_test::huaweicloud_fake::{self, HuaweicloudFake};

#[test]
fn huaweis_sdks_run_a_whole_build_against_the_fake() {
    let fake = HuaweicloudFake::start();
    let ca = fake.ca_cert().expect("the fake's CA");
    let mut c = Command::new(huaweicloud_fake::python());
    c.arg(huaweicloud_fake::fake_dir().join("fidelity/sdk_scenario.py"))
        .args(["--endpoint", &fake.https_endpoint().expect("HTTPS")])
        .args(["--admin", &fake.endpoint()])
        .args(["--ak", fake.access_key()])
        .args(["--project", huaweicloud_fake::PROJECT_ID])
        .args(["--region", huaweicloud_fake::REGION])
        .args(["--vault", huaweicloud_fake::VAULT_ID])
        .args(["--data-image", huaweicloud_fake::DATA_IMAGE_ID])
        .arg("--ca")
        .arg(&ca)
        .env("HUAWEICLOUD_SK", fake.secret_key());
    support::run_scenario(c, |o| o.trim_end().ends_with("scenario ok"), || fake.log());
    let reqs = fake.requests();
    let ok: BTreeSet<&str> = reqs
        .iter()
        .filter(|r| r.code.is_none())
        .map(|r| r.action.as_str())
        .collect();
    for action in [
        "KeystoneListAuthDomains",
        "KeystoneListProjects",
        "NovaListAvailabilityZones",
        "ListFlavors",
        "NovaCreateKeypair",
        "ListImages",
        "CreateVpc",
        "CreateSubnet",
        "CreateSecurityGroup",
        "CreateSecurityGroupRule",
        "CreatePublicip",
        "CreatePostPaidServers",
        "ShowJob",
        "ListServerInterfaces",
        "UpdatePublicip",
        "BatchStopServers",
        "CreateImage",
        "CreateWholeImage",
        "GlanceUpdateImage",
        "ListImageTags",
        "DeleteImageTag",
        "AddImageTag",
        "BatchAddMembers",
        "DeleteServers",
        "DeletePublicip",
        "DeleteSubnet",
        "DeleteVpc",
        "NovaDeleteKeypair",
        "GlanceDeleteImage",
    ] {
        assert!(ok.contains(action), "the SDK never succeeded at `{action}`");
    }
    let failed: BTreeSet<(String, String)> = reqs
        .iter()
        .filter_map(|r| r.code.clone().map(|c| (r.action.clone(), c)))
        .collect();
    for (action, code) in [
        ("NovaListAvailabilityZones", "APIGW.0301"),
        ("ListImages", "APIGW.0301"),
        ("NovaListAvailabilityZones", "APIGW.0308"),
        ("CreatePostPaidServers", "Ecs.0000"),
        ("NovaCreateKeypair", "Ecs.0317"),
        ("DeleteVpc", "VPC.0016"),
        ("DeleteImageTag", "IMG.0027"),
        ("CreatePostPaidServers", "Ecs.0050"),
        ("CreatePostPaidServers", "Ecs.0023"),
        ("CreateWholeImage", "IMG.0229"),
    ] {
        assert!(
            failed.contains(&(action.to_string(), code.to_string())),
            "`{action}` never failed with `{code}`: {failed:?}"
        );
    }
    assert!(
        reqs.iter()
            .all(|r| !r.service.is_empty() || r.status == 404),
        "a request reached no service: {reqs:?}"
    );
}

#[test]
fn a_request_signed_with_another_secret_gets_the_gateways_401() {
    let fake = HuaweicloudFake::start_with(&huaweicloud_fake::Options {
        https: false,
        ..Default::default()
    });
    // Unsigned: the gateway's body, not the service's.
    let err = kiln_test::fake_server::http(
        fake.http_port(),
        "GET",
        &format!("/v1/{}/vpcs", huaweicloud_fake::PROJECT_ID),
        "",
    )
    .expect_err("an unsigned request must fail");
    let text = err.to_string();
    assert!(
        text.contains("`401`") && text.contains("\"error_code\": \"APIGW.0301\""),
        "{text}"
    );
    assert_eq!(fake.actions(), vec!["ListVpcs -> APIGW.0301".to_string()]);
}
