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

/// Writes `template` as `alicloud.json` in `d`, runs `kiln build` on it,
/// and returns the result with its stdout and stderr together.
fn build(d: &TestDir, template: &str) -> (Run, String) {
    run_both(kiln_on(d, "alicloud.json", template, &["build"]))
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
/// in cleanup it waits until the deleted instance is gone
/// (`DescribeInstances`) before deleting its security group and network;
/// and once the build succeeded it takes the run tags off the images
/// (`UntagResources` in each region), which `kiln cleanup` would
/// otherwise find.
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
    want.push("ecs UntagResources cn-beijing".into());
    want.push("ecs UntagResources cn-shanghai".into());
    want
}

#[test]
fn a_build_copies_shares_and_tags_the_image_and_leaves_nothing_else() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let (r, all) = build(&d, &template(&fake, fake.secret_key(), sshd.port));
    assert_provisioned(&r, &all, "alicloud-ecs: hi", &fake.log());

    // Packer 1.6.6's lines, in its order.
    assert_in_order(
        &r.stdout,
        [
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
        ],
    );

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
    assert_bad_credentials(
        &r,
        &all,
        "SignatureDoesNotMatch",
        "`access_key` and `secret_key`",
        "not-the-secret",
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
    assert_logged_build_hides(
        &dir(),
        "alicloud.json",
        &template(&fake, fake.secret_key(), sshd.port),
        &[],
        fake.secret_key(),
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
    let (child, ()) = spawn_until(
        kiln_on(&d, "alicloud.json", &t, &["build"]),
        "the provisioner",
        || marker.exists().then_some(()),
        || fake.log(),
    );
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
    interrupt_cleanly(child);
    let res = fake.resources();
    assert_none_left(&res, TEMPORARY.into_iter().chain(["image"]));
}

/// Ctrl-C when each step of the full build (network, EIP, SSH, provision,
/// image, copy, share, tags) starts, one build per step on one fake: kiln
/// exits 1 and leaves nothing behind but images it reported as its
/// artifact (a last step with nothing left to do can finish before the
/// build notices), with their snapshots.
#[test]
fn ctrl_c_at_every_step_leaves_nothing_but_reported_images() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let mut kept: Vec<String> = Vec::new();
    let interrupted = ctrl_c_at_every_step(
        40,
        |n| {
            let d = dir();
            let t = template(&fake, fake.secret_key(), sshd.port)
                .replace("kiln-alicloud-e2e", &format!("kiln-ctrl-c-{n}"));
            let mut c = kiln_on(&d, "alicloud.json", &t, &["build"]);
            c.env("KILN_TEST_SIGNAL_AT_STEP", n.to_string());
            let r = run(c);
            (d, r)
        },
        |context, _, r| {
            let res = fake.resources();
            assert_none_left(&res, TEMPORARY);
            for image in rows(&res, "image") {
                let id = image["ImageId"].as_str().unwrap().to_string();
                if !kept.contains(&id) {
                    assert!(
                        r.stdout.contains(&id),
                        "{context}: `{id}` is neither deleted nor reported:\n{}\n{}",
                        r.stdout,
                        r.stderr
                    );
                    kept.push(id);
                }
            }
            let snapshots_of_kept = rows(&res, "image")
                .iter()
                .flat_map(|i| i["disks"].as_array().cloned().unwrap_or_default())
                .filter_map(|d| d["SnapshotId"].as_str().map(String::from))
                .collect::<Vec<_>>();
            for s in rows(&res, "snapshot") {
                let id = s["SnapshotId"].as_str().unwrap();
                assert!(
                    snapshots_of_kept.iter().any(|k| k == id),
                    "{context}: snapshot `{id}` left without its image: {res:#}"
                );
            }
        },
        |_, r| assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr),
    );
    assert_interrupted_at(
        &interrupted,
        &[
            "network",
            "securitygroup",
            "eip",
            "connect",
            "provision",
            "image",
            "copy",
            "share",
        ],
    );
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

// ---------------------------------------------------------------------------
// Settings beyond the seed template, `kiln cleanup`, and the fault matrix.

/// The builder's own ECS client on `fake` in `region`, to set the fake up
/// and look at it as a user's tooling would.
fn ecs(fake: &AlicloudFake, region: &str) -> kiln_builder_alicloud::cloud::Ecs {
    let key = kiln_builder_alicloud::client::AccessKey {
        id: fake.access_key().to_string(),
        secret: kiln_sdk::Secret::new(fake.secret_key().to_string()),
        security_token: None,
    };
    kiln_builder_alicloud::cloud::Ecs::connect(region, key, Some(&fake.endpoint())).unwrap()
}

/// Calls `action` with `params` on the fake in cn-beijing; the reply.
fn call(fake: &AlicloudFake, action: &str, params: &[(&str, &str)]) -> Value {
    let mut p = kiln_builder_alicloud::client::Params::new();
    for (k, v) in params {
        p = p.set(k, *v);
    }
    let e = ecs(fake, "cn-beijing");
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(e.call(action, &p))
        .unwrap_or_else(|err| panic!("{action}: {err}"))
}

/// Waits until `kind`'s row `id` in the fake has `Status` = `want`.
fn wait_status(fake: &AlicloudFake, kind: &str, key: &str, id: &str, want: &str) {
    let started = std::time::Instant::now();
    loop {
        let res = fake.resources();
        if rows(&res, kind)
            .iter()
            .any(|r| r[key] == id && r["Status"] == want)
        {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{kind} {id} never became {want}: {res:#}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn an_encrypted_image_replaces_a_temporary_one_in_every_region() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let mut t: Value =
        serde_json::from_str(&template(&fake, fake.secret_key(), sshd.port)).unwrap();
    t["builders"][0]["image_encrypted"] = Value::Bool(true);
    // Accepted, and (as in Packer 1.6.6) without effect.
    t["builders"][0]["image_force_delete_instances"] = Value::Bool(true);
    let (r, all) = build(&d, &t.to_string());
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{}", fake.log());
    assert!(
        all.contains("Creating temporary image for encryption: packer_"),
        "{all}"
    );
    assert!(
        all.contains("after finishing encryption..."),
        "the temporary image is deleted: {all}"
    );

    // The images are the encrypted copies, named `image_name`, shared and
    // (the build region's) tagged, without the run tags; the temporary
    // image and its snapshot are gone.
    let res = fake.resources();
    let images = rows(&res, "image");
    assert_eq!(images.len(), 2, "{res:#}");
    for i in images {
        assert_eq!(i["ImageName"], "kiln-alicloud-e2e", "{i:#}");
        assert_eq!(i["Encrypted"], true, "{i:#}");
        assert_eq!(i["shared"], serde_json::json!([SHARE_ACCOUNT]), "{i:#}");
        assert!(i["tags"].get("kiln:run").is_none(), "{i:#}");
    }
    let beijing = images
        .iter()
        .find(|i| i["RegionId"] == "cn-beijing")
        .unwrap();
    assert_eq!(beijing["tags"]["team"], "kiln", "{beijing:#}");
    let snapshots = rows(&res, "snapshot");
    assert_eq!(snapshots.len(), 2, "{res:#}");
    assert!(snapshots.iter().all(|s| s["Encrypted"] == true), "{res:#}");
    assert_none_left(&res, TEMPORARY);

    // Both copies come from the build region: one into it.
    let mut copied: Vec<String> = fake
        .requests()
        .iter()
        .filter(|q| q.action == "CopyImage")
        .map(|q| format!("{} -> {}", q.region, q.ids["DestinationRegionId"]))
        .collect();
    copied.sort();
    assert_eq!(
        copied,
        ["cn-beijing -> cn-beijing", "cn-beijing -> cn-shanghai"]
    );
}

#[test]
fn image_ignore_data_disks_makes_the_image_of_the_system_disk_alone() {
    let mut disks = Vec::new();
    for ignore in [false, true] {
        let fake = AlicloudFake::start();
        let sshd = fake.sshd();
        let d = dir();
        let mut t: Value =
            serde_json::from_str(&template(&fake, fake.secret_key(), sshd.port)).unwrap();
        let b = &mut t["builders"][0];
        b["image_disk_mappings"] =
            serde_json::json!([{"disk_size": 40, "disk_category": "cloud_efficiency"}]);
        b["image_ignore_data_disks"] = Value::Bool(ignore);
        b.as_object_mut().unwrap().remove("image_copy_regions");
        let (r, all) = build(&d, &t.to_string());
        assert_eq!(r.code, 0, "{ignore}: {all}\n--- fake ---\n{}", fake.log());
        let res = fake.resources();
        let image = &rows(&res, "image")[0];
        let mappings: Vec<String> = image["disks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Type"].as_str().unwrap().to_string())
            .collect();
        disks.push(mappings);
        let snapshots = rows(&res, "snapshot");
        let actions: Vec<String> = fake.requests().iter().map(|q| q.action.clone()).collect();
        if ignore {
            assert!(
                all.contains("Creating snapshot from system disk d-"),
                "{all}"
            );
            // The image is made of the snapshot the build took, which
            // keeps no run tags once the build succeeded.
            assert_eq!(snapshots.len(), 1, "{res:#}");
            assert_eq!(image["disks"][0]["SnapshotId"], snapshots[0]["SnapshotId"]);
            assert_eq!(snapshots[0]["SourceDiskType"], "system");
            assert!(snapshots[0]["tags"].get("kiln:run").is_none(), "{res:#}");
            assert!(
                actions.contains(&"CreateSnapshot".to_string()),
                "{actions:?}"
            );
        } else {
            assert!(
                !actions.contains(&"CreateSnapshot".to_string()),
                "{actions:?}"
            );
        }
        assert_none_left(&res, TEMPORARY);
    }
    assert_eq!(disks, [vec!["system", "data"], vec!["system"]]);
}

#[test]
fn a_build_that_fails_after_the_system_snapshot_deletes_it() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let mut t: Value = serde_json::from_str(
        &template(&fake, fake.secret_key(), sshd.port).replace(SHARE_ACCOUNT, "not-an-account"),
    )
    .unwrap();
    t["builders"][0]["image_ignore_data_disks"] = Value::Bool(true);
    let (r, all) = build(&d, &t.to_string());
    assert_ne!(r.code, 0, "{all}");
    let res = fake.resources();
    assert_none_left(&res, TEMPORARY.into_iter().chain(["image", "snapshot"]));
}

#[test]
fn a_build_in_an_existing_network_leaves_it_and_a_vswitch_alone_finds_its_vpc() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let text = |v: &Value, k: &str| v[k].as_str().unwrap().to_string();
    let vpc = text(
        &call(
            &fake,
            "CreateVpc",
            &[("CidrBlock", "172.16.0.0/16"), ("VpcName", "team-vpc")],
        ),
        "VpcId",
    );
    wait_status(&fake, "vpc", "VpcId", &vpc, "Available");
    let vsw = text(
        &call(
            &fake,
            "CreateVSwitch",
            &[
                ("VpcId", vpc.as_str()),
                ("ZoneId", "cn-beijing-a"),
                ("CidrBlock", "172.16.1.0/24"),
            ],
        ),
        "VSwitchId",
    );
    wait_status(&fake, "vswitch", "VSwitchId", &vsw, "Available");
    let sg = text(
        &call(
            &fake,
            "CreateSecurityGroup",
            &[("VpcId", vpc.as_str()), ("SecurityGroupName", "team-sg")],
        ),
        "SecurityGroupId",
    );

    let base: Value = serde_json::from_str(&template(&fake, fake.secret_key(), sshd.port)).unwrap();
    let mut given = base.clone();
    let b = &mut given["builders"][0];
    b["vpc_id"] = vpc.clone().into();
    b["vswitch_id"] = vsw.clone().into();
    b["security_group_id"] = sg.clone().into();
    b.as_object_mut().unwrap().remove("image_copy_regions");
    let d = dir();
    let (r, all) = build(&d, &given.to_string());
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{}", fake.log());
    assert!(all.contains("alicloud-ecs: hi"), "{all}");

    // The vSwitch alone names the network: kiln finds its VPC. The
    // credentials come from the instance's RAM role this time (the ECS
    // metadata service, which the fake plays).
    let mut alone = base;
    let b = &mut alone["builders"][0];
    b["vswitch_id"] = vsw.clone().into();
    b["security_group_id"] = sg.clone().into();
    b["image_name"] = "kiln-alicloud-vswitch".into();
    b["ram_role_name"] = "AliyunECSImageImportDefaultRole".into();
    let o = b.as_object_mut().unwrap();
    for k in ["image_copy_regions", "access_key", "secret_key"] {
        o.remove(k);
    }
    let mut c = kiln_on(&d, "alone.json", &alone.to_string(), &["build"]);
    c.env("KILN_ALICLOUD_METADATA_ENDPOINT", fake.endpoint())
        .env_remove("ALICLOUD_ACCESS_KEY")
        .env_remove("ALICLOUD_SECRET_KEY");
    let (r, all) = run_both(c);
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{}", fake.log());
    assert!(
        all.contains(&format!("Found vpc {vpc} of vswitch {vsw}")),
        "{all}"
    );
    assert!(!all.contains(fake.secret_key()), "{all}");

    // What the template named is still there, nothing else was made.
    let res = fake.resources();
    let ids = |kind: &str| -> Vec<String> { fake.ids(kind) };
    assert_eq!(ids("vpc"), [vpc]);
    assert_eq!(ids("vswitch"), [vsw]);
    assert_eq!(ids("security_group"), [sg]);
    assert_none_left(&res, ["instance", "disk", "key_pair", "eip"]);
    assert_eq!(rows(&res, "image").len(), 2, "{res:#}");
    let actions: Vec<String> = fake.requests().iter().map(|q| q.action.clone()).collect();
    let made = |a: &str| actions.iter().filter(|x| *x == a).count();
    // Only the set-up above.
    assert_eq!(
        (
            made("CreateVpc"),
            made("CreateVSwitch"),
            made("CreateSecurityGroup")
        ),
        (1, 1, 1),
        "{actions:?}"
    );
    for a in ["DeleteVpc", "DeleteVSwitch", "DeleteSecurityGroup"] {
        assert_eq!(made(a), 0, "{a}: {actions:?}");
    }
}

/// `kiln cleanup` with `args` against the fake.
fn cleanup(d: &TestDir, fake: &AlicloudFake, args: &[&str]) -> Run {
    kiln_cleanup(
        d,
        args,
        &[
            ("ALICLOUD_ACCESS_KEY", fake.access_key()),
            ("ALICLOUD_SECRET_KEY", fake.secret_key()),
            ("ALICLOUD_ECS_ENDPOINT", &fake.endpoint()),
        ],
    )
}

#[test]
fn cleanup_deletes_what_a_sigkilled_alicloud_build_left() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let marker = crate::cleanup::sleep_marker(7);
    let mut t: Value =
        serde_json::from_str(&template(&fake, fake.secret_key(), sshd.port)).unwrap();
    t["builders"][0]["name"] = "killed".into();
    t["builders"][0]
        .as_object_mut()
        .unwrap()
        .remove("image_copy_regions");
    let run_file = d.path().join("run.txt");
    t["provisioners"] = serde_json::json!([{"type": "shell", "inline": [
        format!("echo {{{{ build `PackerRunUUID` }}}} > {}", run_file.display()),
        format!("sleep {marker}"),
    ]}]);
    let path = d.write("killed.json", &t.to_string());
    let uuid = crate::cleanup::build_and_kill(&d, &path, &[], &marker);
    assert_eq!(uuid.len(), 36, "not a UUID: {uuid}");

    // What the killed build left: everything it makes before provisioning,
    // each carrying the run (the VPC and vSwitch in their description).
    let res = fake.resources();
    for kind in TEMPORARY {
        assert!(!rows(&res, kind).is_empty(), "no {kind}: {res:#}");
    }
    for kind in ["instance", "key_pair", "security_group"] {
        assert_eq!(
            rows(&res, kind)[0]["tags"]["kiln:run"],
            uuid.as_str(),
            "{kind}"
        );
        assert_eq!(
            rows(&res, kind)[0]["tags"]["kiln:build"],
            "killed",
            "{kind}"
        );
    }
    for kind in ["vpc", "vswitch"] {
        assert_eq!(
            rows(&res, kind)[0]["Description"],
            format!("kiln:run={uuid} kiln:build=killed"),
            "{kind}"
        );
    }
    // As if the kill had come while the image and a system-disk snapshot
    // were in the making: both tagged as the builder tags them.
    let instance = rows(&res, "instance")[0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    let disk = rows(&res, "instance")[0]["SystemDiskId"]
        .as_str()
        .unwrap()
        .to_string();
    let run_tag = [("Tag.1.Key", "kiln:run"), ("Tag.1.Value", uuid.as_str())];
    let mut p = vec![
        ("InstanceId", instance.as_str()),
        ("ImageName", "kiln-killed-image"),
    ];
    p.extend(run_tag);
    call(&fake, "CreateImage", &p);
    let mut p = vec![("DiskId", disk.as_str())];
    p.extend(run_tag);
    call(&fake, "CreateSnapshot", &p);
    // Another run's resources are not this run's.
    call(
        &fake,
        "CreateKeyPair",
        &[
            ("KeyPairName", "someone-else"),
            ("Tag.1.Key", "kiln:run"),
            ("Tag.1.Value", "another-run"),
        ],
    );

    let args = [
        "-run",
        uuid.as_str(),
        "-cloud=alicloud",
        "-region=cn-beijing",
    ];
    let mut dry = args.to_vec();
    dry.push("-dry-run");
    let r = cleanup(&d, &fake, &dry);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("Would delete instance i-"),
        "{}",
        r.stdout
    );
    assert_eq!(rows(&fake.resources(), "instance").len(), 1);

    let r = cleanup(&d, &fake, &args);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for what in [
        "Deleting instance i-",
        "Deleting EIP eip-",
        "Deleting image m-",
        "Deleting snapshot s-",
        "Deleting key pair packer_",
        "Deleting security group sg-",
        "Deleting vSwitch vsw-",
        "Deleting VPC vpc-",
    ] {
        assert!(r.stdout.contains(what), "no `{what}` in:\n{}", r.stdout);
    }
    let res = fake.resources();
    assert_none_left(
        &res,
        TEMPORARY
            .into_iter()
            .chain(["image", "snapshot"])
            .filter(|k| *k != "key_pair"),
    );
    assert_eq!(fake.ids("key_pair"), ["someone-else"], "{res:#}");

    // A second cleanup finds nothing.
    let r = cleanup(&d, &fake, &args);
    assert_cleanup_found_nothing(&r, &uuid, "alicloud (cn-beijing)");
}

#[test]
fn cleanup_leaves_the_images_of_a_successful_build() {
    let fake = AlicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let run_file = d.path().join("run.txt");
    let t = template(&fake, fake.secret_key(), sshd.port).replace(
        "\"echo hi\"",
        &format!(
            "\"echo {{{{ build `PackerRunUUID` }}}} > {}\"",
            run_file.display()
        ),
    );
    let (r, all) = build(&d, &t);
    assert_eq!(r.code, 0, "{all}");
    assert_cleanup_leaves_a_success(&run_file, "alicloud", "cn-beijing,cn-shanghai", |args| {
        cleanup(&d, &fake, args)
    });
    assert_eq!(rows(&fake.resources(), "image").len(), 2);
    assert_eq!(rows(&fake.resources(), "snapshot").len(), 2);
}

/// Alibaba's RPC API for the fault proxy: the action is `Action=` of the
/// query (or, for OSS on the fake's path-style endpoint, the OSS operation
/// of the method and path); errors are Alibaba's JSON error body,
/// throttling with `throttle` (HTTP 400 for `Throttling*`, 503 for
/// `ServiceUnavailable`, as Alibaba answers them).
pub(crate) fn alibaba(throttle: &str) -> JsonApi {
    JsonApi {
        action: |r| {
            r.uri
                .query()
                .and_then(|q| form_value(q, "Action"))
                .or_else(|| {
                    let path = r.uri.path().trim_start_matches('/');
                    let query = r.uri.query().unwrap_or("");
                    let object = path.split_once('/').is_some_and(|(_, k)| !k.is_empty());
                    let name = match (r.method.as_str(), object, query) {
                        ("PUT", true, "") => "PutObject",
                        ("PUT", true, q) if q.contains("uploadId") => "UploadPart",
                        ("DELETE", true, "") => "DeleteObject",
                        ("PUT", false, "") if !path.is_empty() => "PutBucket",
                        _ => return None,
                    };
                    Some(name.to_string())
                })
        },
        throttle: (
            if throttle == "ServiceUnavailable" {
                503
            } else {
                400
            },
            throttle.to_string(),
        ),
        error: |status| {
            if status == 503 {
                "ServiceUnavailable"
            } else {
                "InternalError"
            }
        },
        body: |code, message, request_id| {
            serde_json::json!({
                "RequestId": request_id, "HostId": "ecs.aliyuncs.com", "Code": code,
                "Message": message, "Recommend": "",
            })
        },
        content_type: "application/json;charset=utf-8",
    }
}

/// A build without SSH through `endpoint` (the proxy): the network, the
/// instance, an EIP and the image, nothing copied or shared.
fn fault_template(fake: &AlicloudFake, endpoint: &str) -> String {
    serde_json::json!({
        "builders": [{
            "type": "alicloud-ecs",
            "access_key": fake.access_key(),
            "secret_key": fake.secret_key(),
            "region": "cn-beijing",
            "custom_endpoint_ecs": endpoint,
            "image_name": "kiln-alicloud-faults",
            "source_image": SOURCE_IMAGE,
            "instance_type": "ecs.n1.tiny",
            "communicator": "none"
        }]
    })
    .to_string()
}

/// The fault matrix on Alibaba: each case on its own fake and proxy, the
/// build without SSH; one that succeeds made exactly one image and its
/// snapshot (a create retried with its `ClientToken` is not made twice).
/// With `short_timeouts`, a call that hangs times out after 2 s.
struct Faults {
    short_timeouts: bool,
}

impl FaultCloud for Faults {
    type Fake = AlicloudFake;
    const TEMPORARY: &'static [&'static str] = &TEMPORARY;
    const BUILT: &'static [(&'static str, usize)] = &[("image", 1), ("snapshot", 1)];

    fn start(&self) -> (AlicloudFake, String) {
        let fake = AlicloudFake::start();
        let endpoint = fake.endpoint();
        (fake, endpoint)
    }

    fn seed(&self) -> u64 {
        if self.short_timeouts {
            5
        } else {
            7
        }
    }

    fn dialect(&self, throttle: &'static str) -> JsonApi {
        alibaba(throttle)
    }

    fn build(&self, fake: &AlicloudFake, d: &TestDir, endpoint: &str) -> (Run, String) {
        let mut c = kiln_on(
            d,
            "alicloud.json",
            &fault_template(fake, endpoint),
            &["build"],
        );
        if self.short_timeouts {
            c.env("KILN_CLOUD_CONNECT_TIMEOUT", "2")
                .env("KILN_CLOUD_READ_TIMEOUT", "2");
        }
        run_both(c)
    }

    fn resources(&self, fake: &AlicloudFake) -> Value {
        fake.resources()
    }

    fn secret<'a>(&self, fake: &'a AlicloudFake) -> &'a str {
        fake.secret_key()
    }

    fn names_the_call(&self, action: &str, all: &str) -> bool {
        all.contains(action) || all.contains("creating")
    }
}

/// The fault matrix with the default timeouts.
const FAULTS: Faults = Faults {
    short_timeouts: false,
};

/// The creating calls the matrix hits.
const CREATES: [&str; 4] = [
    "CreateInstance",
    "CreateVpc",
    "AllocateEipAddress",
    "CreateImage",
];

#[test]
fn alibabas_throttling_on_creating_calls_is_retried_and_leaves_nothing() {
    let throttles = ["Throttling", "Throttling.User", "ServiceUnavailable"];
    fault_matrix(&FAULTS, FaultCase::throttling(&CREATES, &throttles));
}

#[test]
fn errors_resets_and_lost_replies_on_creating_calls_leave_nothing() {
    let mut cases = FaultCase::transient(&CREATES, "Throttling");
    // A fault that does not stop: the build gives up, clearly, and
    // deletes what it made before.
    cases.push(FaultCase {
        action: "CreateInstance",
        fault: kiln_test::fault_proxy::Fault::Status(503),
        throttle: "Throttling",
        limit: None,
    });
    fault_matrix(&FAULTS, cases);
}

/// A server that reads a call and never answers: with short request
/// timeouts, a CreateImage that hangs once is sent again and the build
/// succeeds with one image; one that always hangs fails the build with an
/// error that says the call timed out and names it, and the build deletes
/// what it made.
#[test]
fn a_call_that_never_answers_times_out_and_is_retried_or_fails_clearly() {
    use kiln_test::fault_proxy::Fault;
    for limit in [Some(1), None] {
        let case = FaultCase {
            action: "CreateImage",
            fault: Fault::Hang,
            throttle: "Throttling",
            limit,
        };
        let hung = fault_case(
            &Faults {
                short_timeouts: true,
            },
            &case,
        );
        let res = hung.fake.resources();
        let all = &hung.all;
        if limit.is_some() {
            assert_eq!(hung.run.code, 0, "{all}\n{}", hung.proxy.summary());
            assert_eq!(rows(&res, "image").len(), 1, "{res:#}");
        } else {
            assert_eq!(hung.run.code, 1, "{all}");
            let lower = all.to_lowercase();
            assert!(
                lower.contains("did not answer `createimage` in time"),
                "the error says the call timed out: {all}"
            );
            assert!(
                all.contains(&hung.proxy.endpoint()),
                "names the endpoint: {all}"
            );
            assert_none_left(&res, ["image", "snapshot"]);
        }
    }
}

#[test]
fn cleanup_of_alicloud_needs_regions_and_credentials() {
    let d = dir();
    let mut c = d.kiln(&["cleanup", "-run", "r1", "-cloud=alicloud"]);
    c.env_remove("ALICLOUD_REGION");
    let r = run(c);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("`-cloud=alicloud` needs the regions to search"),
        "{}",
        r.stderr
    );
    let mut c = d.kiln(&[
        "cleanup",
        "-run",
        "r1",
        "-cloud=alicloud",
        "-region=cn-beijing",
    ]);
    c.env_remove("ALICLOUD_ACCESS_KEY")
        .env_remove("ALICLOUD_SECRET_KEY");
    let (r, all) = run_both(c);
    assert_eq!(r.code, 1, "{all}");
    assert!(
        all.contains(
            "no Alibaba Cloud credentials: set ALICLOUD_ACCESS_KEY and ALICLOUD_SECRET_KEY"
        ),
        "{all}"
    );
}
