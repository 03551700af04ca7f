//! Fidelity of the FAKE Tencent Cloud API (fakes/tencentcloud):
//! tencentcloud-sdk-python runs a build's sequence and the rejections
//! against it, and Debian's packer 1.6.6 runs a whole tencentcloud-cvm build
//! against it. A change to the fake that breaks a real Tencent client, or
//! changes what packer does, fails here.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use kiln_test::tencentcloud_fake::{self, Options, TencentcloudFake};
use serde_json::Value;
use support::{ids, PackerRun};

/// The kinds the fake holds that are not empty, with their rows.
fn held(res: &Value) -> Vec<String> {
    support::held(res, &[])
}

#[test]
fn tencents_sdk_runs_a_build_sequence_against_the_fake() {
    let fake = TencentcloudFake::start();
    let mut c = Command::new(tencentcloud_fake::python());
    c.arg(tencentcloud_fake::fake_dir().join("fidelity/sdk_scenario.py"))
        .arg(fake.endpoint())
        .arg(fake.https_endpoint().expect("HTTPS is on"))
        .arg(fake.ca_cert().expect("the fake's CA"))
        .env("TENCENTCLOUD_SECRET_ID", fake.secret_id())
        .env("TENCENTCLOUD_SECRET_KEY", fake.secret_key());
    let stdout = support::run_scenario(c, |o| o.contains(" passed, 0 failed"), || fake.log());
    assert!(
        stdout.contains("ok   a call over HTTPS, verified against the fake's CA"),
        "the HTTPS check ran: {stdout}"
    );
    let reqs = fake.requests();
    for (action, code) in [
        ("DescribeZones", "AuthFailure.SignatureFailure"),
        ("DescribeZones", "AuthFailure.SecretIdNotFound"),
        ("DescribeZones", "AuthFailure.SignatureExpire"),
        ("DescribeZones", "RequestLimitExceeded"),
        (
            "StopInstances",
            "OperationDenied.InstanceOperationInProgress",
        ),
        ("CreateImage", "InvalidImageName.Duplicate"),
        ("DeleteSecurityGroup", "ResourceInUse"),
        ("DescribeZones", "UnsupportedRegion"),
    ] {
        assert!(
            reqs.iter()
                .any(|r| r.action == action && r.code.as_deref() == Some(code)),
            "the log has no {action} -> {code}"
        );
    }
    let run: Vec<_> = reqs
        .iter()
        .filter(|r| r.action == "RunInstances" && r.code.is_none())
        .collect();
    assert!(
        !run.is_empty() && run.iter().all(|r| r.ids["InstanceIds"].starts_with("ins-")),
        "RunInstances is logged with the instance it made: {run:?}"
    );
    let services: BTreeSet<&str> = reqs.iter().map(|r| r.service.as_str()).collect();
    assert_eq!(services, BTreeSet::from(["cvm", "vpc"]));
    assert!(held(&fake.resources()).is_empty());
}

#[test]
fn the_guard_reports_config_and_rejects_unsigned_requests() {
    let fake = TencentcloudFake::start_with(&Options {
        https: false,
        ..Options::default()
    });
    assert!(fake.https_endpoint().is_none() && fake.ca_cert().is_none());
    fake.set_time_scale(0.5);
    assert_eq!(fake.config()["time_scale"].as_f64(), Some(0.5));
    // An unsigned call: Tencent's HTTP 200 with an error body.
    let body = "{}";
    let (head, body) = support::raw_http(
        &fake.host_port(),
        &format!(
            "POST / HTTP/1.1\r\nHost: cvm.tencentcloudapi.com\r\nContent-Type: application/json\r\nX-TC-Action: DescribeZones\r\nX-TC-Version: 2017-03-12\r\nX-TC-Region: ap-guangzhou\r\nX-TC-Timestamp: 1767225600\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}\n{body}");
    let v: Value = serde_json::from_str(&body).expect("a JSON error body");
    assert_eq!(
        v["Response"]["Error"]["Code"], "AuthFailure.SignatureFailure",
        "{v}"
    );
    assert!(v["Response"]["RequestId"].is_string(), "{v}");
    assert!(v["Response"]["Error"]["Message"].is_string(), "{v}");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(
        reqs[0].code.as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
    fake.fail("RunInstances", "RequestLimitExceeded", 2);
    assert_eq!(fake.faults_fired("RunInstances"), 0);
    fake.reset();
    assert!(fake.requests().is_empty());
    assert!(held(&fake.resources()).is_empty());
}

#[test]
fn the_fake_checks_the_shared_tc3_vector() {
    // The vector tencentcloud-sdk-python's own signer computed
    // (`tencent_tc3` of shared/reference/cloud-signing/sigvectors.json,
    // outside the repository, so copied here), through the fake's signer.
    let tc3 = serde_json::json!({
        "secret_key": "SK",
        "date": "2026-01-01",
        "service": "cvm",
        "string_to_sign": "TC3-HMAC-SHA256\n1767225600\n2026-01-01/cvm/tc3_request\n58076df0bb269bb147c8fabebb63e99cdb9c41724cf52f04ecb1b64b4ecc73ba",
        "signature": "1a26e6bc2ae58320c4ecc53905a0472af26f3f7333be8c824c91517685763c80"
    });
    let out = Command::new(tencentcloud_fake::python())
        .arg("-c")
        .arg(
            "import sys; sys.path.insert(0, sys.argv[1]); import tencentcloud_fake as f; \
             print(f.tc3_signature(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]))",
        )
        .arg(tencentcloud_fake::fake_dir())
        .arg(tc3["secret_key"].as_str().unwrap())
        .arg(tc3["date"].as_str().unwrap())
        .arg(tc3["service"].as_str().unwrap())
        .arg(tc3["string_to_sign"].as_str().unwrap())
        .output()
        .expect("run the fake's signer");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        tc3["signature"].as_str().unwrap(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn packer_1_6_6_builds_against_the_fake() {
    let packer = kiln_test::require_packer();
    let _ = tencentcloud_fake::venv();
    let run = PackerRun::run(
        &tencentcloud_fake::fake_dir().join("fidelity/packer_build.sh"),
        &packer,
        &[],
    );
    let packer_out = run.read("packer.out");
    assert!(
        packer_out.contains("tencentcloud-cvm: hi"),
        "the provisioner ran over SSH: {packer_out}"
    );

    // The action sequence is the recorded one.
    let want = tencentcloud_fake::recorded_actions("packer-1.6.6-actions.txt");
    let got = tencentcloud_fake::without_retried(run.read("actions.txt").lines());
    assert_eq!(
        got, want,
        "packer's action sequence changed (fixture: fakes/tencentcloud/fidelity/packer-1.6.6-actions.txt)"
    );

    // Nothing is left but the two images the build reported as its
    // artifact.
    let res = run.resources();
    let artifact: BTreeSet<String> = packer_out
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("img-") && w.len() == 12 && *w != "img-pi0ii46r")
        .map(String::from)
        .collect();
    assert_eq!(
        artifact.len(),
        2,
        "packer reported two images: {packer_out}"
    );
    assert_eq!(ids(&res, "image", "ImageId"), artifact);
    for kind in ["instance", "vpc", "subnet", "security_group", "key_pair"] {
        assert_eq!(res[kind], serde_json::json!([]), "packer left a {kind}");
    }
    // packer's calls went over HTTPS to Tencent's central host names,
    // TC3-signed.
    let log = kiln_test::alicloud_fake::parse_requests(&run.requests());
    assert!(log.iter().all(|r| r.signature == "tc3"
        && matches!(
            r.host.as_str(),
            "cvm.tencentcloudapi.com" | "vpc.tencentcloudapi.com"
        )));
}
