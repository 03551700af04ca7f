//! `kiln build` with the huaweicloud-ecs builder against the FAKE Huawei
//! Cloud API (`fakes/huaweicloud`, started per test by
//! `kiln_test::huaweicloud_fake`), through the `endpoints` setting.
//!
//! The fake boots nothing: its EIPs' address is 127.0.0.1, and a loopback
//! sshd plays the server, its `AuthorizedKeysCommand` asking the fake for
//! the public keys of the key pairs of ACTIVE servers, so the temporary key
//! pair kiln imports is what lets the `shell` provisioner in. The tests
//! check what the build left in the fake and the calls it made.

use kiln_test::huaweicloud_fake::{
    ApiRequest, HuaweicloudFake, DATA_IMAGE_ID, PROJECT_ID, REGION, VAULT_ID,
};
use kiln_test::sshd;
use serde_json::Value;

use crate::support::*;

/// The project the image is shared with.
const MEMBER: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// What a build makes for itself and must delete, whatever its outcome
/// (the server's volumes go with it).
const TEMPORARY: [&str; 8] = [
    "server",
    "volume",
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
    run_both(kiln_on(
        d,
        "huaweicloud.json",
        &template.to_string(),
        &["build"],
    ))
}

#[test]
fn a_build_provisions_over_ssh_shares_the_image_and_leaves_nothing_else() {
    let fake = HuaweicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let (r, all) = build(&d, &template(&fake, fake.secret_key(), sshd.port));
    assert_provisioned(&r, &all, "huaweicloud-ecs: hi", &fake.log());

    // The plugin's lines, in its order.
    assert_in_order(
        &r.stdout,
        [
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
        ],
    );

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
    assert_none_left(&fake.resources(), TEMPORARY);

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
    assert!(
        image["tags"].get("kiln:run").is_none(),
        "run tags left: {image:#}"
    );
}

/// Builds `t`, which must fail saying `words` and leave nothing at all.
fn assert_fails_leaving_nothing(fake: &HuaweicloudFake, t: &Value, words: &str) {
    let (r, all) = build(&dir(), t);
    assert_ne!(r.code, 0, "{all}");
    assert!(all.contains(words), "{all}");
    assert_none_left(&fake.resources(), TEMPORARY.into_iter().chain(["image"]));
}

#[test]
fn an_unknown_flavor_fails_before_anything_is_made() {
    let fake = HuaweicloudFake::start();
    let mut t = template(&fake, fake.secret_key(), 22);
    t["builders"][0]["flavor"] = "no-such-flavor".into();
    assert_fails_leaving_nothing(
        &fake,
        &t,
        "unable to find the specified flavor `no-such-flavor`",
    );
}

#[test]
fn wrong_credentials_fail_clearly_and_create_nothing() {
    let fake = HuaweicloudFake::start();
    let d = dir();
    let (r, all) = build(&d, &template(&fake, "not-the-secret", 22));
    assert_bad_credentials(
        &r,
        &all,
        "APIGW.0301",
        "`access_key` and `secret_key`",
        "not-the-secret",
    );
    assert_none_left(&fake.resources(), TEMPORARY.into_iter().chain(["image"]));
    let actions: Vec<String> = fake.requests().iter().map(|q| q.action.clone()).collect();
    assert_eq!(actions, ["NovaListAvailabilityZones"]);
}

#[test]
fn the_secret_key_appears_nowhere_in_the_output() {
    let fake = HuaweicloudFake::start();
    let sshd = fake.sshd();
    assert_logged_build_hides(
        &dir(),
        "huaweicloud.json",
        &template(&fake, fake.secret_key(), sshd.port).to_string(),
        &[],
        fake.secret_key(),
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
    assert_none_left(&fake.resources(), TEMPORARY.into_iter().chain(["image"]));
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
        assert_none_left(&fake.resources(), TEMPORARY);
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
    assert_none_left(&fake.resources(), TEMPORARY.into_iter().chain(["image"]));
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
            let mut c = kiln_on(&d, "huaweicloud.json", &t.to_string(), &["build"]);
            c.env("KILN_TEST_SIGNAL_AT_STEP", n.to_string());
            (d, run(c))
        },
        |context, _, r| {
            assert_none_left_after(
                &format!("{context}\n{}", r.stdout),
                &fake.resources(),
                TEMPORARY.into_iter().chain(["image"]),
            )
        },
        |_, r| assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr),
    );
    assert_interrupted_at(
        &interrupted,
        &[
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
        ],
    );
}

/// Huawei's API for the fault proxy: the action is the method and the
/// path, the project as `{project}` (`POST /v1/{project}/cloudservers`),
/// as Huawei's operations are named by their route; throttling is HTTP
/// 429 with `throttle`, in the gateway's `{"error_code", "error_msg"}`
/// body for an `APIGW.*` code, else in ECS's `{"error": {"code",
/// "message"}}`; a 5xx is the gateway's `APIGW.0202` ("backend
/// unavailable").
fn huawei(throttle: &str) -> JsonApi {
    JsonApi {
        action: |r| {
            Some(format!(
                "{} {}",
                r.method,
                r.uri.path().replace(PROJECT_ID, "{project}")
            ))
        },
        throttle: (429, throttle.to_string()),
        error: |_| "APIGW.0202",
        body: |code, message, request_id| {
            if code.starts_with("APIGW.") {
                serde_json::json!({"error_code": code, "error_msg": message, "request_id": request_id})
            } else {
                serde_json::json!({"error": {"code": code, "message": message}})
            }
        },
        content_type: "application/json",
    }
}

/// The creating calls the matrix hits (server, EIP, image, key pair),
/// each with the words the builder's error names it by.
const CREATES: [(&str, &str); 4] = [
    (
        "POST /v1/{project}/cloudservers",
        "error launching source server",
    ),
    ("POST /v1/{project}/publicips", "error creating EIP"),
    ("POST /v2/cloudimages/action", "Error creating image"),
    (
        "POST /v2.1/{project}/os-keypairs",
        "error creating temporary keypair",
    ),
];

/// The fault matrix on Huawei: each case on its own fake and proxy, every
/// service's endpoint the proxy, the build without SSH (still with its
/// temporary key pair, network and EIP); one that succeeds made exactly
/// one image.
struct Faults;

impl FaultCloud for Faults {
    type Fake = HuaweicloudFake;
    const TEMPORARY: &'static [&'static str] = &TEMPORARY;
    const BUILT: &'static [(&'static str, usize)] = &[("image", 1)];

    fn start(&self) -> (HuaweicloudFake, String) {
        let fake = HuaweicloudFake::start();
        let endpoint = fake.endpoint();
        (fake, endpoint)
    }

    fn dialect(&self, throttle: &'static str) -> JsonApi {
        huawei(throttle)
    }

    fn build(&self, fake: &HuaweicloudFake, d: &TestDir, endpoint: &str) -> (Run, String) {
        let t = serde_json::json!({
            "builders": [{
                "type": "huaweicloud-ecs",
                "access_key": fake.access_key(),
                "secret_key": fake.secret_key(),
                "region": "cn-north-4",
                "project_id": PROJECT_ID,
                "endpoints": {"ecs": endpoint, "ims": endpoint, "vpc": endpoint, "eip": endpoint},
                "flavor": "s6.small.1",
                "source_image_name": "Ubuntu 22.04 server 64bit",
                "image_name": "kiln-huaweicloud-faults",
                "eip_type": "5_bgp",
                "eip_bandwidth_size": 5,
                "communicator": "none"
            }]
        });
        build(d, &t)
    }

    fn resources(&self, fake: &HuaweicloudFake) -> Value {
        fake.resources()
    }

    fn secret<'a>(&self, fake: &'a HuaweicloudFake) -> &'a str {
        fake.secret_key()
    }

    fn names_the_call(&self, action: &str, all: &str) -> bool {
        CREATES
            .iter()
            .any(|(a, words)| *a == action && all.contains(words))
    }
}

/// The creating calls' actions.
fn creates() -> Vec<&'static str> {
    CREATES.iter().map(|(a, _)| *a).collect()
}

#[test]
fn huaweis_throttling_through_the_proxy_on_creating_calls_is_retried_and_leaves_nothing() {
    fault_matrix(
        &Faults,
        FaultCase::throttling(&creates(), &["APIGW.0308", "Common.0024"]),
    );
}

#[test]
fn errors_resets_and_lost_replies_on_creating_calls_leave_nothing() {
    let mut cases = FaultCase::transient(&creates(), "APIGW.0308");
    // A fault that does not stop: the build gives up, clearly, and
    // deletes what it made before.
    cases.push(FaultCase {
        action: CREATES[0].0,
        fault: kiln_test::fault_proxy::Fault::Status(503),
        throttle: "APIGW.0308",
        limit: None,
    });
    fault_matrix(&Faults, cases);
}

/// The one successful call of `action`.
fn the_call<'a>(reqs: &'a [ApiRequest], action: &str) -> &'a ApiRequest {
    let calls: Vec<_> = reqs
        .iter()
        .filter(|q| q.action == action && q.code.is_none())
        .collect();
    assert_eq!(calls.len(), 1, "`{action}` calls: {reqs:#?}");
    calls[0]
}

/// `data_disks` (an empty disk and one of the shared data image) are made
/// with the server as its `data_volumes`, the image's disk sized from
/// IMS, and deleted with it; `image_type` `full-ecs` makes the image with
/// `CreateWholeImage` through the `vault_id`; only the image is left.
#[test]
fn data_disks_go_with_the_server_and_a_full_ecs_image_goes_through_the_vault() {
    let fake = HuaweicloudFake::start();
    let sshd = fake.sshd();
    let d = dir();
    let mut t = template(&fake, fake.secret_key(), sshd.port);
    let b = &mut t["builders"][0];
    b["data_disks"] = serde_json::json!([
        {"volume_size": 100, "volume_type": "GPSSD"},
        {"data_image_id": DATA_IMAGE_ID}
    ]);
    b["image_type"] = "full-ecs".into();
    b["vault_id"] = VAULT_ID.into();
    let (r, all) = build(&d, &t);
    assert_provisioned(&r, &all, "huaweicloud-ecs: hi", &fake.log());

    let reqs = fake.requests();
    let looked = reqs.iter().any(|q| {
        q.action == "ListImages" && q.query.contains(&("id".into(), DATA_IMAGE_ID.into()))
    });
    assert!(looked, "the data image was not looked at: {reqs:#?}");
    let server = &the_call(&reqs, "CreatePostPaidServers").body["server"];
    assert_eq!(
        server["data_volumes"],
        serde_json::json!([
            {"volumetype": "GPSSD", "size": 100},
            {"volumetype": "SSD", "size": 20, "data_image_id": DATA_IMAGE_ID}
        ]),
        "{server:#}"
    );
    let whole = &the_call(&reqs, "CreateWholeImage").body;
    assert_eq!(whole["vault_id"], VAULT_ID, "{whole:#}");
    assert_eq!(whole["name"], "kiln-huaweicloud-e2e", "{whole:#}");
    assert!(!reqs.iter().any(|q| q.action == "CreateImage"), "{reqs:#?}");
    let delete = &the_call(&reqs, "DeleteServers").body;
    assert_eq!(delete["delete_volume"], true, "{delete:#}");

    let images = fake.rows("image");
    assert_eq!(images.len(), 1, "{images:#?}");
    assert_eq!(images[0]["__whole_image"], "true", "{:#}", images[0]);
    assert!(images[0]["__backup_id"].is_string(), "{:#}", images[0]);
    assert_none_left(&fake.resources(), TEMPORARY);
}

/// `data_disks` that name an image IMS does not have fail the build
/// before the server is made (as the plugin's `StepCheckVolumes`), and
/// leave nothing.
#[test]
fn a_data_disk_of_a_missing_image_fails_before_the_server() {
    let fake = HuaweicloudFake::start();
    let mut t = template(&fake, fake.secret_key(), 22);
    t["builders"][0]["data_disks"] = serde_json::json!([{"data_image_id": "no-such-image"}]);
    assert_fails_leaving_nothing(
        &fake,
        &t,
        "data_disks[0]: can not find the image `no-such-image`",
    );
    let reqs = fake.requests();
    assert!(
        !reqs.iter().any(|q| q.action == "CreatePostPaidServers"),
        "{reqs:#?}"
    );
}

/// Without `project_id` the project is looked up first, through IAM's
/// `KeystoneListProjects` by `project_name` (the region's by default), and
/// every call of the build is in it; a name IAM does not know fails the
/// build before anything is made.
#[test]
fn without_project_id_the_project_is_found_through_iam() {
    let fake = HuaweicloudFake::start();
    let d = dir();
    let mut t = template(&fake, fake.secret_key(), 22);
    let b = t["builders"][0].as_object_mut().unwrap();
    for k in ["project_id", "ssh_username", "ssh_port", "ssh_timeout"] {
        b.remove(k);
    }
    b.insert("communicator".into(), "none".into());
    b["endpoints"]["iam"] = fake.endpoint().into();
    t.as_object_mut().unwrap().remove("provisioners");
    let (r, all) = build(&d, &t);
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{}", fake.log());
    let reqs = fake.requests();
    assert_eq!(reqs[0].action, "KeystoneListProjects", "{reqs:#?}");
    assert_eq!(reqs[0].query, [("name".to_string(), REGION.to_string())]);
    let log = fake.request_log();
    let elsewhere: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["service"] != "iam" && q["project"] != PROJECT_ID)
        .collect();
    assert!(
        elsewhere.is_empty(),
        "calls in another project: {elsewhere:#?}"
    );
    assert_eq!(fake.rows("image").len(), 1);
    assert_none_left(&fake.resources(), TEMPORARY);

    fake.reset();
    t["builders"][0]["project_name"] = "no-such-project".into();
    assert_fails_leaving_nothing(
        &fake,
        &t,
        "can not find the project ID of `no-such-project` through IAM",
    );
    let actions: Vec<String> = fake.requests().iter().map(|q| q.action.clone()).collect();
    assert_eq!(actions, ["KeystoneListProjects"]);
}
