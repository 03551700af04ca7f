//! `kiln build` with the huaweicloud-ecs builder against the FAKE Huawei
//! Cloud API (`fakes/huaweicloud`, started per test by
//! `kiln_test::huaweicloud_fake`), through the `endpoints` setting.
//!
//! The fake boots nothing: its EIPs' address is 127.0.0.1, and a loopback
//! sshd plays the server, its `AuthorizedKeysCommand` asking the fake for
//! the public keys of the key pairs of ACTIVE servers, so the temporary key
//! pair kiln imports is what lets the `shell` provisioner in. The tests
//! check what the build left in the fake and the calls it made.

use kiln_test::huaweicloud_fake::{HuaweicloudFake, PROJECT_ID};
use kiln_test::sshd;
use serde_json::Value;

use crate::support::*;

/// The project the image is shared with.
const MEMBER: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// What a build makes for itself and must delete, whatever its outcome.
const TEMPORARY: [&str; 7] = [
    "server",
    "vpc",
    "subnet",
    "security_group",
    "security_group_rule",
    "keypair",
    "eip",
];

/// The seed template: a temporary network and EIP, the image shared and
/// tagged, provisioned over SSH through the EIP (127.0.0.1 at `port`).
fn template(fake: &HuaweicloudFake, secret: &str, port: u16) -> Value {
    let e = fake.endpoint();
    serde_json::json!({
        "builders": [{
            "type": "huaweicloud-ecs",
            "access_key": fake.access_key(),
            "secret_key": secret,
            "region": "cn-north-4",
            "project_id": PROJECT_ID,
            "endpoints": {"ecs": e, "ims": e, "vpc": e, "eip": e},
            "flavor": "s6.small.1",
            "source_image_name": "Ubuntu 22.04 server 64bit",
            "image_name": "kiln-huaweicloud-e2e",
            "image_tags": {"team": "kiln"},
            "image_members": [MEMBER],
            "image_min_disk": 50,
            "eip_type": "5_bgp",
            "eip_bandwidth_size": 5,
            "ssh_username": sshd::current_user(),
            "ssh_port": port,
            "ssh_timeout": "60s"
        }],
        "provisioners": [{"type": "shell", "inline": ["echo hi"]}]
    })
}

/// Writes `template` as `huaweicloud.json` in `d`, runs `kiln build` on
/// it, and returns the result with its stdout and stderr together.
fn build(d: &TestDir, template: &Value) -> (Run, String) {
    std::fs::write(d.path().join("huaweicloud.json"), template.to_string()).unwrap();
    let r = run(d.kiln(&["build", "huaweicloud.json"]));
    let all = format!("{}\n{}", r.stdout, r.stderr);
    (r, all)
}

/// Fails unless the fake holds nothing of `kinds`.
fn assert_none_left<'a>(fake: &HuaweicloudFake, kinds: impl IntoIterator<Item = &'a str>) {
    let res = fake.resources();
    for kind in kinds {
        assert!(
            res[kind].as_array().is_none_or(|a| a.is_empty()),
            "{kind} left: {res:#}"
        );
    }
}

#[test]
fn a_build_provisions_over_ssh_shares_the_image_and_leaves_nothing_else() {
    let fake = HuaweicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let (r, all) = build(&d, &template(&fake, fake.secret_key(), sshd.port));
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{}", fake.log());
    assert!(
        all.contains("huaweicloud-ecs: hi"),
        "the provisioner ran over SSH: {all}"
    );

    // The plugin's lines, in its order.
    let mut rest = r.stdout.as_str();
    for line in [
        "==> huaweicloud-ecs: Loading availability zones...",
        "    huaweicloud-ecs: Select cn-north-4",
        "==> huaweicloud-ecs: Loading flavor: s6.small.1",
        "    huaweicloud-ecs: Verified flavor. ID: s6.small.1",
        "==> huaweicloud-ecs: Creating temporary keypair: packer_",
        "    huaweicloud-ecs: Found Image ID: 8ce4a1b6-0d5a-4f49-b8ee-1d4b1b1c0001",
        "==> huaweicloud-ecs: Creating temporary VPC...",
        "    huaweicloud-ecs: temporary VPC ID: ",
        "==> huaweicloud-ecs: Creating temporary subnet...",
        "==> huaweicloud-ecs: Creating temporary security group: packer_",
        "==> huaweicloud-ecs: Creating EIP ...",
        "    huaweicloud-ecs: Created EIP: '",
        "==> huaweicloud-ecs: Launching server in AZ cn-north-4",
        "    huaweicloud-ecs: Server ID: ",
        "    huaweicloud-ecs: Waiting for server to become ready...",
        "==> huaweicloud-ecs: Associating public IP '",
        "    huaweicloud-ecs: hi",
        "==> huaweicloud-ecs: Stopping server: ",
        "==> huaweicloud-ecs: Creating the image: kiln-huaweicloud-e2e",
        "    huaweicloud-ecs: Image: ",
        "==> huaweicloud-ecs: Updating image min_disk to 50 GB",
        "==> huaweicloud-ecs: Adding members [\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"] to image",
        "==> huaweicloud-ecs: Terminating the source server: ",
        "==> huaweicloud-ecs: Deleted temporary public IP '",
        "==> huaweicloud-ecs: Deleting temporary security group: ",
        "==> huaweicloud-ecs: Deleting temporary subnet: ",
        "==> huaweicloud-ecs: Deleting temporary VPC: ",
        "==> huaweicloud-ecs: Deleting temporary keypair: packer_",
    ] {
        match rest.find(line) {
            Some(at) => rest = &rest[at + line.len()..],
            None => panic!("`{line}` missing or out of order:\n{}", r.stdout),
        }
    }

    // The image is the artifact: active, shared, tagged, with its minimum
    // disk; nothing else is left.
    let images = fake.rows("image");
    assert_eq!(images.len(), 1, "{images:#?}");
    let image = &images[0];
    assert_eq!(image["status"], "active", "{image:#}");
    assert_eq!(image["name"], "kiln-huaweicloud-e2e");
    assert_eq!(image["min_disk"], 50, "{image:#}");
    assert_eq!(image["members"], serde_json::json!([MEMBER]), "{image:#}");
    assert_eq!(image["tags"]["team"], "kiln", "{image:#}");
    let id = image["id"].as_str().unwrap();
    assert!(
        all.contains(&format!("An image was created: {id}")),
        "{all}"
    );
    assert_none_left(&fake, TEMPORARY);

    // Everything it made carried the run tags.
    // Every call succeeded but the last look at the deleted server, whose
    // 404 says it is gone.
    let reqs = fake.requests();
    let failed: Vec<_> = reqs.iter().filter(|q| q.code.is_some()).collect();
    assert!(
        failed.len() == 1
            && failed[0].action == "ShowServer"
            && failed[0].code.as_deref() == Some("Ecs.0114"),
        "a call failed: {failed:#?}"
    );
    let tagged: Vec<&str> = reqs
        .iter()
        .filter(|q| q.action == "CreateResourceTag")
        .map(|q| q.service.as_str())
        .collect();
    assert!(
        tagged.contains(&"vpc") && tagged.contains(&"eip"),
        "{tagged:?}"
    );
    assert!(image["tags"].get("kiln:run").is_some(), "{image:#}");
}

#[test]
fn an_unknown_flavor_fails_before_anything_is_made() {
    let fake = HuaweicloudFake::start();
    let d = dir();
    let mut t = template(&fake, fake.secret_key(), 22);
    t["builders"][0]["flavor"] = "no-such-flavor".into();
    let (r, all) = build(&d, &t);
    assert_ne!(r.code, 0, "{all}");
    assert!(
        all.contains("unable to find the specified flavor `no-such-flavor`"),
        "{all}"
    );
    assert_none_left(&fake, TEMPORARY.into_iter().chain(["image"]));
}

#[test]
fn wrong_credentials_fail_clearly_and_create_nothing() {
    let fake = HuaweicloudFake::start();
    let d = dir();
    let (r, all) = build(&d, &template(&fake, "not-the-secret", 22));
    assert_ne!(r.code, 0, "{all}");
    assert!(all.contains("APIGW.0301"), "{all}");
    assert!(
        all.contains("check `access_key` and `secret_key`"),
        "the error says what to check: {all}"
    );
    assert!(
        !all.contains("not-the-secret"),
        "the secret was printed: {all}"
    );
    assert_none_left(&fake, TEMPORARY.into_iter().chain(["image"]));
    let actions: Vec<String> = fake.requests().iter().map(|q| q.action.clone()).collect();
    assert_eq!(actions, ["NovaListAvailabilityZones"]);
}

#[test]
fn the_secret_key_appears_nowhere_in_the_output() {
    let fake = HuaweicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    std::fs::write(
        d.path().join("huaweicloud.json"),
        template(&fake, fake.secret_key(), sshd.port).to_string(),
    )
    .unwrap();
    let mut c = d.kiln(&["build", "-machine-readable", "huaweicloud.json"]);
    c.env("PACKER_LOG", "1");
    let r = run(c);
    let all = format!("{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.code, 0, "{all}");
    assert!(
        !all.contains(fake.secret_key()),
        "the secret key was printed: {all}"
    );
}

#[test]
fn a_failing_provisioner_cleans_up_everything() {
    let fake = HuaweicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let mut t = template(&fake, fake.secret_key(), sshd.port);
    t["provisioners"][0]["inline"] = serde_json::json!(["exit 3"]);
    let (r, all) = build(&d, &t);
    assert_ne!(r.code, 0, "{all}");
    assert_none_left(&fake, TEMPORARY.into_iter().chain(["image"]));
}

/// The fault matrix: Huawei's throttling (`APIGW.0308`, 429) and transient
/// errors (`Ecs.0000`-style 500s, 503s) on the main create calls are
/// retried, the build succeeds, and nothing is left but the image; a
/// fault that does not stop fails the build, naming the call, and leaves
/// nothing.
#[test]
fn huaweis_throttling_and_transient_errors_on_creating_calls_are_retried() {
    let fake = HuaweicloudFake::start();
    let sshd = fake.sshd();
    let cases: &[(&str, u16, &str)] = &[
        ("NovaCreateKeypair", 429, "APIGW.0308"),
        ("CreateVpc", 429, "APIGW.0308"),
        ("CreateSubnet", 500, "VPC.0001"),
        ("CreateSecurityGroup", 429, "APIGW.0308"),
        ("CreatePublicip", 503, "EIP.0001"),
        ("CreatePostPaidServers", 500, "Ecs.0000"),
        ("CreatePostPaidServers", 429, "Common.0024"),
        ("ShowServer", 500, "Ecs.0000"),
        ("BatchStopServers", 429, "APIGW.0308"),
        ("CreateImage", 429, "APIGW.0308"),
        ("ShowJob", 503, "Ecs.0000"),
        ("BatchAddMembers", 500, "IMG.0000"),
    ];
    for (action, status, code) in cases {
        fake.reset();
        fake.fail(action, *status, code, 2);
        let d = dir();
        let (r, all) = build(&d, &template(&fake, fake.secret_key(), sshd.port));
        let label = format!("{code} ({status}) on {action}");
        assert_eq!(r.code, 0, "{label}: {all}\n--- fake ---\n{}", fake.log());
        assert_eq!(
            fake.faults_fired(action),
            2,
            "{label}: the fault did not fire twice"
        );
        assert_none_left(&fake, TEMPORARY);
        assert_eq!(fake.rows("image").len(), 1, "{label}");
    }
    // A fault that does not stop: the build gives up, clearly.
    fake.reset();
    fake.fail("CreatePostPaidServers", 503, "Ecs.0000", 1000);
    let d = dir();
    let (r, all) = build(&d, &template(&fake, fake.secret_key(), sshd.port));
    assert_ne!(r.code, 0, "{all}");
    assert!(
        all.contains("error launching source server") && all.contains("Ecs.0000"),
        "{all}"
    );
    assert_none_left(&fake, TEMPORARY.into_iter().chain(["image"]));
}

/// Ctrl-C as each step starts, one build per step: each build is
/// cancelled cleanly and leaves nothing at all (the image, once made, is
/// deleted too); the build that gets past every step succeeds.
#[test]
fn ctrl_c_at_every_step_leaves_nothing() {
    let fake = HuaweicloudFake::start();
    let sshd = fake.sshd();
    let interrupted = ctrl_c_at_every_step(
        30,
        |n| {
            let d = dir();
            let mut t = template(&fake, fake.secret_key(), sshd.port);
            t["builders"][0]["image_name"] = format!("kiln-ctrl-c-{n}").into();
            std::fs::write(d.path().join("huaweicloud.json"), t.to_string()).unwrap();
            let mut c = d.kiln(&["build", "huaweicloud.json"]);
            c.env("KILN_TEST_SIGNAL_AT_STEP", n.to_string());
            (d, run(c))
        },
        |context, _, r| {
            let res = fake.resources();
            for kind in TEMPORARY.into_iter().chain(["image"]) {
                assert!(
                    res[kind].as_array().is_none_or(|a| a.is_empty()),
                    "{context}: {kind} left: {res:#}\n{}",
                    r.stdout
                );
            }
        },
        |_, r| assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr),
    );
    for step in [
        "StepLoadAZ",
        "StepKeyPair",
        "StepNetwork",
        "StepSecurityGroup",
        "StepCreatePublicipIP",
        "StepRunSourceServer",
        "StepAssociatePublicipIP",
        "StepStopServer",
        "stepCreateImage",
        "stepAddImageMembers",
    ] {
        assert!(
            interrupted.iter().any(|s| s.contains(step)),
            "{step} never interrupted: {interrupted:?}"
        );
    }
}
