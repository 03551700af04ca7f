//! Fidelity of the FAKE UCloud API (fakes/ucloud): UCloud's own Python
//! SDKs (ucloud-sdk-python3 and `ufile`) run a whole build's calls, an
//! import through UFile, bad signatures, paging and throttling against it.
//! Debian's packer 1.6.6 has no ucloud builder, so the SDKs are the check:
//! a change to the fake that breaks a real UCloud client fails here.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use kiln_test::ucloud_fake::{self, UcloudFake};

#[test]
fn ucloud_sdks_run_a_build_and_an_import_against_the_fake() {
    let fake = UcloudFake::start();
    let mut c = Command::new(ucloud_fake::python());
    c.arg(ucloud_fake::fake_dir().join("fidelity/sdk_scenario.py"))
        .arg(fake.endpoint())
        .arg(fake.public_key())
        .env("UCLOUD_PRIVATE_KEY", fake.private_key());
    support::run_scenario(
        c,
        |o| o.contains("checks") && !o.contains("FAIL"),
        || fake.log(),
    );
    let reqs = fake.requests();
    let called: BTreeSet<&str> = reqs
        .iter()
        .filter(|r| r.code == 0)
        .map(|r| r.action.as_str())
        .collect();
    for action in [
        "GetProjectList",
        "GetRegion",
        "DescribeAvailableInstanceTypes",
        "DescribeImage",
        "DescribeVPC",
        "DescribeSubnet",
        "DescribeFirewall",
        "CreateUHostInstance",
        "DescribeUHostInstance",
        "StopUHostInstance",
        "CreateCustomImage",
        "CopyCustomImage",
        "TerminateUHostInstance",
        "TerminateCustomImage",
        "ImportCustomImage",
        "CreateBucket",
        "PutFile",
        "InitiateMultipartUpload",
        "UploadPart",
        "FinishMultipartUpload",
        "HeadFile",
        "DeleteFile",
    ] {
        assert!(
            called.contains(action),
            "the SDKs made no successful `{action}`"
        );
    }
    let refused: BTreeSet<i64> = reqs.iter().map(|r| r.code).filter(|c| *c != 0).collect();
    for code in [153, 170, 171, 8010, 8011, 8020, 54002] {
        assert!(refused.contains(&code), "RetCode {code} never answered");
    }
    // The password reaches the log masked only.
    let create = reqs
        .iter()
        .find(|r| r.action == "CreateUHostInstance" && r.code == 0)
        .unwrap();
    assert_eq!(create.params["Password"], "***");
    assert_eq!(create.params["Disks.0.Type"], "CLOUD_SSD");
    assert_eq!(create.params["NetworkInterface.0.EIP.OperatorName"], "Bgp");
}

#[test]
fn the_guard_sees_resources_faults_and_seeded_images() {
    let fake = UcloudFake::start();
    let ids = fake.seed_images(ucloud_fake::PROJECT, "cn-bj2", 3, "seed");
    assert_eq!(ids.len(), 3);
    assert_eq!(fake.rows("image").len(), 3);
    assert_eq!(fake.rows("firewall").len(), 2 * 2 * 21 + 1);
    fake.reset();
    assert!(fake.rows("image").is_empty());
    assert!(fake.requests().is_empty());
}
