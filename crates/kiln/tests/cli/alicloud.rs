//! `kiln build` with the alicloud-ecs builder against the FAKE Alibaba
//! Cloud API (`fakes/alicloud`, started per test by
//! `kiln_test::alicloud_fake`), through `custom_endpoint_ecs`.
//!
//! The fake boots nothing: its instances' addresses are 127.0.0.1, and a
//! loopback sshd plays the instance, its `AuthorizedKeysCommand` asking the
//! fake for the public keys of the key pairs attached to running
//! instances, so the temporary key pair kiln imports and attaches is what
//! lets the `shell` provisioner in. The tests check what the build left
//! in the fake (`resources()`) and the calls it made (`requests()`),
//! normalised by the same script as packer 1.6.6's recorded sequence
//! (`fakes/alicloud/fidelity/`).

use std::process::Command;

use kiln_test::alicloud_fake::{self, AlicloudFake};
use kiln_test::sshd;
use serde_json::Value;

use crate::support::*;

/// The source image the fake serves (a built-in public image).
const SOURCE_IMAGE: &str = "centos_7_9_x64_20G_alibase_20200000.vhd";
/// The account the image is shared with.
const SHARE_ACCOUNT: &str = "1234567890123456";

/// The seed template: cn-beijing, copied to cn-shanghai, shared, tagged,
/// provisioned over SSH through an EIP (127.0.0.1 at `port`).
fn template(fake: &AlicloudFake, secret: &str, port: u16) -> String {
    serde_json::json!({
        "builders": [{
            "type": "alicloud-ecs",
            "access_key": fake.access_key(),
            "secret_key": secret,
            "region": "cn-beijing",
            "custom_endpoint_ecs": fake.endpoint(),
            "image_name": "kiln-alicloud-e2e",
            "source_image": SOURCE_IMAGE,
            "instance_type": "ecs.n1.tiny",
            "io_optimized": true,
            "internet_charge_type": "PayByTraffic",
            "image_copy_regions": ["cn-shanghai"],
            "image_share_account": [SHARE_ACCOUNT],
            "tags": {"team": "kiln", "purpose": "e2e"},
            "ssh_username": sshd::current_user(),
            "ssh_port": port,
            "ssh_timeout": "60s"
        }],
        "provisioners": [{"type": "shell", "inline": ["echo hi"]}]
    })
    .to_string()
}

/// The rows of `kind` the fake holds.
fn rows<'a>(res: &'a Value, kind: &str) -> &'a [Value] {
    res[kind].as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// What a build makes for itself and must delete, whatever its outcome.
const TEMPORARY: [&str; 7] = [
    "instance",
    "disk",
    "vpc",
    "vswitch",
    "security_group",
    "key_pair",
    "eip",
];

/// Fails unless the fake holds no row of any of `kinds`.
fn assert_none_left<'a>(res: &Value, kinds: impl IntoIterator<Item = &'a str>) {
    for kind in kinds {
        assert!(rows(res, kind).is_empty(), "{kind} left: {res:#}");
    }
}

/// Writes `template` as `alicloud.json` in `d`, runs `kiln build` on it,
/// and returns the result with its stdout and stderr together.
fn build(d: &TestDir, template: &str) -> (Run, String) {
    std::fs::write(d.path().join("alicloud.json"), template).unwrap();
    let r = run(d.kiln(&["build", "alicloud.json"]));
    let all = format!("{}\n{}", r.stdout, r.stderr);
    (r, all)
}

/// The fake's request log, normalised by `fidelity/normalize_actions.py`
/// (one `service Action region` line per call, polls collapsed).
fn actions(fake: &AlicloudFake) -> Vec<String> {
    let log: Vec<Value> = fake
        .requests()
        .iter()
        .map(|r| {
            serde_json::json!({
                "service": r.service, "action": r.action, "region": r.region, "code": r.code,
            })
        })
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_string(&log).unwrap()).unwrap();
    let out = Command::new(alicloud_fake::python())
        .arg(alicloud_fake::fake_dir().join("fidelity/normalize_actions.py"))
        .arg(file.path())
        .output()
        .expect("run normalize_actions.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// packer 1.6.6's recorded sequence for the same build without tags and
/// sharing accounts.
fn packer_actions() -> Vec<String> {
    std::fs::read_to_string(alicloud_fake::fake_dir().join("fidelity/packer-1.6.6-actions.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(String::from)
        .collect()
}

/// Where kiln's sequence legitimately differs from packer's (each also in
/// docs/compatibility.md), applied to packer's: kiln generates the key
/// pair and imports its public half (`ImportKeyPair`) where packer has ECS
/// make one and send the private key back (`CreateKeyPair`); kiln tags
/// the image (this template has `tags`, packer's had none); it waits for
/// the copy to be available before sharing it (`DescribeImages` in
/// cn-shanghai), so a build that succeeds has usable images everywhere;
/// and in cleanup it waits until the deleted instance is gone
/// (`DescribeInstances`) before deleting its security group and network.
fn expected_actions() -> Vec<String> {
    let mut want = Vec::new();
    for line in packer_actions() {
        match line.as_str() {
            "ecs CreateKeyPair cn-beijing" => want.push("ecs ImportKeyPair cn-beijing".into()),
            "ecs DescribeImages cn-beijing"
                if want.contains(&"ecs CreateImage cn-beijing".to_string()) =>
            {
                want.push(line);
                want.push("ecs TagResources cn-beijing".into());
            }
            "ecs DeleteInstance cn-beijing" => {
                want.push(line);
                want.push("ecs DescribeInstances cn-beijing".into());
            }
            "ecs CopyImage cn-beijing" => {
                want.push(line);
                want.push("ecs DescribeImages cn-shanghai".into());
            }
            _ => want.push(line),
        }
    }
    want
}

#[test]
fn a_build_copies_shares_and_tags_the_image_and_leaves_nothing_else() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let (r, all) = build(&d, &template(&fake, fake.secret_key(), sshd.port));
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{}", fake.log());
    assert!(
        all.contains("alicloud-ecs: hi"),
        "the provisioner ran over SSH: {all}"
    );

    // Packer 1.6.6's lines, in its order.
    let mut rest = r.stdout.as_str();
    for line in [
        "==> alicloud-ecs: Prevalidating source region and copied regions...",
        "==> alicloud-ecs: Prevalidating image name...",
        "    alicloud-ecs: Found image ID: centos_7_9_x64_20G_alibase_20200000.vhd",
        "==> alicloud-ecs: Creating temporary keypair: packer_",
        "==> alicloud-ecs: Creating vpc...",
        "    alicloud-ecs: Created vpc: vpc-",
        "==> alicloud-ecs: Creating vswitch...",
        "    alicloud-ecs: Created vswitch: vsw-",
        "==> alicloud-ecs: Creating security group...",
        "    alicloud-ecs: Created security group: sg-",
        "==> alicloud-ecs: Creating instance...",
        "    alicloud-ecs: Created instance: i-",
        "==> alicloud-ecs: Allocating eip...",
        "    alicloud-ecs: Allocated eip: 127.0.0.1",
        "    alicloud-ecs: Attach keypair packer_",
        "==> alicloud-ecs: Starting instance: i-",
        "    alicloud-ecs: hi",
        "==> alicloud-ecs: Stopping instance: i-",
        "==> alicloud-ecs: Waiting instance stopped: i-",
        "==> alicloud-ecs: Creating image: kiln-alicloud-e2e",
        "    alicloud-ecs: Detach keypair packer_",
        "==> alicloud-ecs: Cleaning up 'EIP'",
        "==> alicloud-ecs: Cleaning up 'instance'",
        "==> alicloud-ecs: Cleaning up 'security group'",
        "==> alicloud-ecs: Cleaning up 'vSwitch'",
        "==> alicloud-ecs: Cleaning up 'VPC'",
        "==> alicloud-ecs: Deleting temporary keypair...",
    ] {
        match rest.find(line) {
            Some(at) => rest = &rest[at + line.len()..],
            None => panic!("`{line}` missing or out of order:\n{}", r.stdout),
        }
    }

    // The images, in both regions, are the artifact.
    let res = fake.resources();
    let images = rows(&res, "image");
    let image = |region: &str| {
        images
            .iter()
            .find(|i| i["RegionId"] == region)
            .unwrap_or_else(|| panic!("no image in {region}: {res:#}"))
    };
    let (beijing, shanghai) = (image("cn-beijing"), image("cn-shanghai"));
    assert_eq!(images.len(), 2, "{res:#}");
    let id = |i: &Value| i["ImageId"].as_str().unwrap().to_string();
    assert!(
        all.contains(&format!(
            "Alicloud images were created:\n\ncn-beijing: {}\ncn-shanghai: {}",
            id(beijing),
            id(shanghai)
        )),
        "{all}"
    );
    for i in [beijing, shanghai] {
        assert_eq!(i["Status"], "Available", "{i:#}");
        assert_eq!(i["ImageName"], "kiln-alicloud-e2e");
        assert_eq!(i["shared"], serde_json::json!([SHARE_ACCOUNT]), "{i:#}");
    }
    assert_eq!(beijing["tags"]["team"], "kiln", "{beijing:#}");
    assert_eq!(beijing["tags"]["purpose"], "e2e", "{beijing:#}");

    // Nothing else is left: only the images' snapshots.
    assert_none_left(&res, TEMPORARY);
    let snapshots = rows(&res, "snapshot");
    assert_eq!(snapshots.len(), 2, "{res:#}");
    let beijing_snapshot = snapshots
        .iter()
        .find(|s| s["RegionId"] == "cn-beijing")
        .unwrap();
    assert_eq!(beijing_snapshot["tags"]["team"], "kiln", "{res:#}");

    let reqs = fake.requests();
    assert!(
        reqs.iter().all(|q| q.code.is_none()),
        "a call failed: {reqs:#?}"
    );

    // The same calls as packer 1.6.6, but for the documented differences.
    assert_eq!(actions(&fake), expected_actions());
}

#[test]
fn wrong_credentials_fail_clearly_and_create_nothing() {
    let fake = AlicloudFake::start();
    let d = dir();
    let (r, all) = build(&d, &template(&fake, "not-the-secret", 22));
    assert_ne!(r.code, 0, "{all}");
    assert!(all.contains("SignatureDoesNotMatch"), "{all}");
    assert!(
        all.contains("check `access_key` and `secret_key`"),
        "the error says what to check: {all}"
    );
    assert!(
        !all.contains("not-the-secret"),
        "the secret was printed: {all}"
    );
    let res = fake.resources();
    assert_none_left(&res, TEMPORARY.into_iter().chain(["image"]));
    let actions: Vec<String> = fake.requests().iter().map(|q| q.action.clone()).collect();
    assert_eq!(actions, ["DescribeRegions"]);
}

#[test]
fn the_secret_key_appears_nowhere_in_the_output() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    std::fs::write(
        d.path().join("alicloud.json"),
        template(&fake, fake.secret_key(), sshd.port),
    )
    .unwrap();
    let mut c = d.kiln(&["build", "-machine-readable", "alicloud.json"]);
    c.env("PACKER_LOG", "1");
    let r = run(c);
    let all = format!("{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.code, 0, "{all}");
    assert!(!fake.secret_key().is_empty());
    assert!(
        !all.contains(fake.secret_key()),
        "the secret key was printed: {all}"
    );
}

#[test]
fn a_build_that_fails_after_the_copy_deletes_every_image_and_resource() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    // The fake rejects an account that is not a number: sharing, the last
    // step, fails once the image and its copy exist.
    let t = template(&fake, fake.secret_key(), sshd.port).replace(SHARE_ACCOUNT, "not-an-account");
    let (r, all) = build(&d, &t);
    assert_ne!(r.code, 0, "{all}");
    assert!(
        all.contains("Failed modifying image share permissions")
            && all.contains("InvalidAccount.NotFound"),
        "{all}"
    );
    assert!(!all.contains("Alicloud images were created"), "{all}");
    let res = fake.resources();
    assert_none_left(&res, TEMPORARY.into_iter().chain(["image", "snapshot"]));
}

#[test]
fn a_failing_provisioner_cleans_up_everything() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let t = template(&fake, fake.secret_key(), sshd.port).replace("echo hi", "exit 3");
    let (r, all) = build(&d, &t);
    assert_ne!(r.code, 0, "{all}");
    assert!(
        all.contains("Deleting instance because of cancellation or error..."),
        "{all}"
    );
    let res = fake.resources();
    assert_none_left(&res, TEMPORARY.into_iter().chain(["image"]));
    let actions: Vec<String> = fake.requests().iter().map(|q| q.action.clone()).collect();
    assert!(!actions.contains(&"CreateImage".to_string()), "{actions:?}");
}

#[test]
fn a_discarded_artifact_is_destroyed_in_every_region() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    std::fs::write(d.path().join("t.json"), "{}").unwrap();
    let mut t: Value =
        serde_json::from_str(&template(&fake, fake.secret_key(), sshd.port)).unwrap();
    // artifice replaces the images with a file: the images are destroyed,
    // shared or not, with their snapshots.
    t["post-processors"] = serde_json::json!([
        {"type": "artifice", "files": ["t.json"], "keep_input_artifact": false}
    ]);
    let (r, all) = build(&d, &t.to_string());
    assert_eq!(r.code, 0, "{all}");
    let res = fake.resources();
    for kind in ["image", "snapshot", "instance", "vpc", "key_pair", "eip"] {
        assert!(rows(&res, kind).is_empty(), "{kind} left: {res:#}");
    }
    let deleted: Vec<String> = fake
        .requests()
        .iter()
        .filter(|q| q.action == "DeleteImage")
        .map(|q| q.region.clone())
        .collect();
    assert_eq!(deleted, ["cn-beijing", "cn-shanghai"]);
}

#[test]
fn ctrl_c_while_provisioning_cleans_up_everything() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    // The "instance" is this machine's sshd: the marker says the
    // provisioner runs.
    let marker = d.path().join("provisioning");
    let t = template(&fake, fake.secret_key(), sshd.port).replace(
        "\"echo hi\"",
        &format!("\"touch {}\", \"sleep 120\"", marker.display()),
    );
    std::fs::write(d.path().join("alicloud.json"), t).unwrap();
    let mut c = d.kiln(&["build", "alicloud.json"]);
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    let started = std::time::Instant::now();
    while !marker.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the provisioner never started: {}",
            fake.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // While it runs, what the build made carries kiln's run tags, so
    // `kiln cleanup` can find it after a SIGKILL.
    let res = fake.resources();
    for kind in ["instance", "key_pair", "security_group"] {
        let row = &rows(&res, kind)[0];
        assert_eq!(row["tags"]["kiln:build"], "alicloud-ecs", "{kind}: {row:#}");
        assert!(
            row["tags"]["kiln:run"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{kind}: {row:#}"
        );
    }
    let status = Command::new("kill")
        .args(["-2", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("Cleanly cancelled builds after being interrupted."),
        "{all}"
    );
    let res = fake.resources();
    assert_none_left(&res, TEMPORARY.into_iter().chain(["image"]));
}

#[test]
fn the_instance_is_reached_by_public_ip_or_private_ip_without_an_eip() {
    for (key, action) in [
        (
            "associate_public_ip_address",
            Some("AllocatePublicIpAddress"),
        ),
        ("ssh_private_ip", None),
    ] {
        // The instances' private address is the sshd's too.
        let fake = AlicloudFake::start_with(&alicloud_fake::Options {
            private_ip: Some("127.0.0.1".into()),
            ..Default::default()
        });
        let sshd = fake.sshd();
        let d = dir();
        let mut t: Value =
            serde_json::from_str(&template(&fake, fake.secret_key(), sshd.port)).unwrap();
        t["builders"][0][key] = Value::Bool(true);
        let (r, all) = build(&d, &t.to_string());
        assert_eq!(r.code, 0, "{key}: {all}");
        assert!(all.contains("alicloud-ecs: hi"), "{key}: {all}");
        let actions: Vec<String> = fake.requests().iter().map(|q| q.action.clone()).collect();
        assert!(
            !actions.iter().any(|a| a.contains("Eip")),
            "{key}: {actions:?}"
        );
        if let Some(a) = action {
            assert!(actions.iter().any(|x| x == a), "{key}: {actions:?}");
        }
        assert_none_left(&fake.resources(), TEMPORARY);
    }
}
