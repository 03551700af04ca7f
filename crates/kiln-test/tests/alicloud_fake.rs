//! Fidelity of the FAKE Alibaba Cloud API (fakes/alicloud): Alibaba's own
//! Python SDKs run a build's sequence against it, and Debian's packer 1.6.6
//! runs a whole alicloud-ecs build against it. A change to the fake that
//! breaks a real Alibaba client, or changes what packer does, fails here.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use kiln_test::alicloud_fake::{self, AlicloudFake, Options};
use serde_json::Value;
use support::{ids, PackerRun};

/// What the build sequence leaves behind: nothing but the RAM role the fake
/// starts with and finished import tasks.
fn held(res: &Value) -> Vec<String> {
    support::held(res, &["role", "task"])
}

#[test]
fn alibaba_sdks_run_a_build_sequence_against_the_fake() {
    let fake = AlicloudFake::start();
    let mut c = Command::new(alicloud_fake::python());
    c.arg(alicloud_fake::fake_dir().join("fidelity/sdk_scenario.py"))
        .arg(fake.endpoint())
        .arg(fake.https_endpoint().expect("HTTPS is on"))
        .arg(fake.ca_cert().expect("the fake's CA"))
        .env("ALICLOUD_ACCESS_KEY", fake.access_key())
        .env("ALICLOUD_SECRET_KEY", fake.secret_key());
    let stdout = support::run_scenario(c, |o| o.contains(" passed, 0 failed"), || fake.log());
    let reqs = fake.requests();
    assert!(
        stdout.contains("ok   DescribeRegions over HTTPS"),
        "the HTTPS check ran: {stdout}"
    );
    let sigs: BTreeSet<&str> = reqs.iter().map(|r| r.signature.as_str()).collect();
    assert_eq!(
        sigs,
        BTreeSet::from(["acs3", "oss", "v1"]),
        "every signature kind was used"
    );
    for (action, code) in [
        ("DescribeRegions", "SignatureNonceUsed"),
        ("DescribeRegions", "InvalidTimeStamp.Expired"),
        ("DescribeRegions", "InvalidAccessKeyId.NotFound"),
        ("DescribeRegions", "SignatureDoesNotMatch"),
        ("StartInstance", "IncorrectInstanceStatus"),
        ("CreateImage", "InvalidImageName.Duplicated"),
        ("DeleteSecurityGroup", "DependencyViolation"),
        ("DescribeImages", "InvalidRegionId.NotFound"),
    ] {
        assert!(
            reqs.iter()
                .any(|r| r.action == action && r.code.as_deref() == Some(code)),
            "the log has no {action} -> {code}"
        );
    }
    let created: Vec<_> = reqs
        .iter()
        .filter(|r| r.action == "CreateInstance" && r.status == 200)
        .collect();
    assert!(
        !created.is_empty()
            && created
                .iter()
                .all(|r| r.ids["InstanceId"].starts_with("i-")),
        "CreateInstance is logged with the instance it made: {created:?}"
    );
    let left = held(&fake.resources());
    assert!(left.is_empty(), "the scenario left resources: {left:?}");
}

#[test]
fn the_guard_reports_config_and_rejects_unsigned_requests() {
    let fake = AlicloudFake::start_with(&Options {
        https: false,
        ..Options::default()
    });
    assert!(fake.https_endpoint().is_none() && fake.ca_cert().is_none());
    fake.set_time_scale(0.5);
    assert_eq!(fake.config()["time_scale"].as_f64(), Some(0.5));
    // An unsigned call from an unknown key: Alibaba's 404 and error body.
    let (head, body) = support::raw_http(
        &fake.host_port(),
        "GET /?Action=DescribeRegions&Version=2014-05-26&AccessKeyId=LTAInobody&Signature=x&Timestamp=2026-01-01T00:00:00Z&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&SignatureNonce=1 HTTP/1.1\r\nHost: ecs.aliyuncs.com\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}\n{body}");
    let v: Value = serde_json::from_str(&body).expect("a JSON error body");
    assert_eq!(v["Code"], "InvalidAccessKeyId.NotFound");
    for k in ["RequestId", "HostId", "Message", "Recommend"] {
        assert!(v[k].is_string(), "error body without `{k}`: {v}");
    }
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].code.as_deref(), Some("InvalidAccessKeyId.NotFound"));
    fake.reset();
    assert!(fake.requests().is_empty());
    assert!(held(&fake.resources()).is_empty());
}

#[test]
fn packer_1_6_6_builds_against_the_fake() {
    let Some(packer) = kiln_test::packer_or_skip("the alicloud-ecs fidelity build") else {
        return;
    };
    let _ = alicloud_fake::venv();
    let run = PackerRun::run(
        &alicloud_fake::fake_dir().join("fidelity/packer_build.sh"),
        &packer,
        &[],
    );
    let packer_out = run.read("packer.out");
    assert!(
        packer_out.contains("alicloud-ecs: hi"),
        "the provisioner ran over SSH: {packer_out}"
    );

    // The action sequence is the recorded one.
    let want = alicloud_fake::recorded_actions("packer-1.6.6-actions.txt");
    let got: Vec<String> = run.read("actions.txt").lines().map(String::from).collect();
    assert_eq!(
        got, want,
        "packer's action sequence changed (fixture: fakes/alicloud/fidelity/packer-1.6.6-actions.txt)"
    );

    // Nothing is left but the two images (and their snapshots) the build
    // reported as its artifact.
    let res = run.resources();
    let artifact: BTreeSet<String> = packer_out
        .lines()
        .filter_map(|l| {
            let (region, id) = l.trim().split_once(": m-")?;
            matches!(region, "cn-beijing" | "cn-shanghai").then(|| format!("m-{id}"))
        })
        .collect();
    assert_eq!(
        artifact.len(),
        2,
        "packer reported two images: {packer_out}"
    );
    assert_eq!(ids(&res, "image", "ImageId"), artifact);
    let image_snaps: BTreeSet<String> = res["image"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["disks"].as_array().unwrap().iter())
        .map(|d| d["SnapshotId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids(&res, "snapshot", "SnapshotId"), image_snaps);
    for kind in [
        "instance",
        "disk",
        "vpc",
        "vswitch",
        "security_group",
        "key_pair",
        "eip",
        "bucket",
        "object",
        "multipart",
    ] {
        assert_eq!(res[kind], serde_json::json!([]), "packer left a {kind}");
    }
    // The build's requests were all answered; packer's ECS calls went over
    // plain HTTP to the central endpoint, Location over HTTPS.
    let log = alicloud_fake::parse_requests(&run.requests());
    assert!(
        log.iter().all(|r| r.status == 200),
        "{:?}",
        log.iter().filter(|r| r.status != 200).collect::<Vec<_>>()
    );
    assert!(log
        .iter()
        .any(|r| r.host == "location-readonly.aliyuncs.com"));
    assert!(log
        .iter()
        .filter(|r| r.service == "ecs")
        .all(|r| r.host == "ecs.aliyuncs.com" && r.signature == "v1"));
}

/// Runs `fidelity/packer_import.sh` (packer 1.6.6's alicloud-import after
/// a file build) with `args`; checks it imported one image, deleted its
/// upload, and made the calls of the fixture `fixture`.
fn packer_imports_against_the_fake(packer: &std::path::Path, args: &[&str], fixture: &str) {
    let _ = alicloud_fake::venv();
    let run = PackerRun::run(
        &alicloud_fake::fake_dir().join("fidelity/packer_import.sh"),
        packer,
        args,
    );
    let packer_out = run.read("packer.out");
    let want = alicloud_fake::recorded_actions(fixture);
    let got: Vec<String> = run.read("actions.txt").lines().map(String::from).collect();
    assert_eq!(
        got, want,
        "packer's action sequence changed (fixture: fakes/alicloud/fidelity/{fixture})"
    );
    let res = run.resources();
    let images = res["image"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{res:#}");
    assert_eq!(images[0]["Status"], "Available");
    assert_eq!(images[0]["disks"][0]["ImportOSSObject"], "disk-disk.raw");
    assert!(
        packer_out.contains(&format!(
            "cn-hangzhou: {}",
            images[0]["ImageId"].as_str().unwrap()
        )),
        "{packer_out}"
    );
    assert_eq!(
        res["object"],
        serde_json::json!([]),
        "packer left its upload"
    );
}

#[test]
fn packer_1_6_6_imports_against_the_fake() {
    let Some(packer) = kiln_test::packer_or_skip("the alicloud-import fidelity run") else {
        return;
    };
    packer_imports_against_the_fake(&packer, &[], "packer-1.6.6-import-actions.txt");
}

/// Packer sleeps a minute after creating the role: this one is slow.
#[test]
fn packer_1_6_6_creates_the_import_role_against_the_fake() {
    let Some(packer) = kiln_test::packer_or_skip("the alicloud-import role fidelity run") else {
        return;
    };
    packer_imports_against_the_fake(
        &packer,
        &["--no-import-role"],
        "packer-1.6.6-import-role-actions.txt",
    );
}
