//! `kiln build` with the ucloud-uhost builder against the FAKE UCloud API
//! (`fakes/ucloud`, started per test by `kiln_test::ucloud_fake`), through
//! `base_url`.
//!
//! The fake boots nothing: its EIPs are 127.0.0.1, and a loopback sshd
//! plays the UHost, taking the password the UHost is created with
//! (`ssh_password`, the test user's), so the `shell` provisioner really
//! runs over SSH. The tests check what the build left in the fake
//! (`resources()`) and the calls it made (`requests()`); the fault matrix
//! runs the build behind `kiln_test::fault_proxy` with UCloud's RetCodes.

use kiln_test::sshd;
use kiln_test::ucloud_fake::{UcloudFake, OTHER_PROJECT, PROJECT};
use serde_json::Value;

use crate::support::*;

/// The source image (a base image past the first page of 20).
const SOURCE_IMAGE: &str = "uimage-centos79";

/// The seed template: cn-bj2-02 in `org-kiln`, copied to cn-sh2 of the
/// same project and to hk of `org-copy` (and once into its own project and
/// region, which is skipped), provisioned over SSH through the EIP
/// (127.0.0.1 at `port`) with the test user's password.
fn template(fake: &UcloudFake, base_url: &str, private_key: &str, port: u16) -> Value {
    serde_json::json!({
        "builders": [{
            "type": "ucloud-uhost",
            "public_key": fake.public_key(),
            "private_key": private_key,
            "project_id": PROJECT,
            "region": "cn-bj2",
            "availability_zone": "cn-bj2-02",
            "base_url": base_url,
            "source_image_id": SOURCE_IMAGE,
            "instance_type": "n-basic-2",
            "image_name": "kiln-ucloud-e2e",
            "image_description": "made by kiln",
            "image_copy_to_mappings": [
                {"project_id": PROJECT, "region": "cn-sh2", "name": "kiln-ucloud-sh"},
                {"project_id": OTHER_PROJECT, "region": "hk", "description": "the copy"},
                {"project_id": PROJECT, "region": "cn-bj2"}
            ],
            "ssh_username": sshd::PASSWORD_USER,
            "ssh_password": sshd::PASSWORD,
            "ssh_port": port,
            "ssh_timeout": "60s"
        }],
        "provisioners": [{"type": "shell", "inline": ["echo hi from $(id -un)"]}]
    })
}

/// A build without SSH (`communicator: none`) through `base_url`.
fn bare_template(fake: &UcloudFake, base_url: &str) -> Value {
    serde_json::json!({
        "builders": [{
            "type": "ucloud-uhost",
            "public_key": fake.public_key(),
            "private_key": fake.private_key(),
            "project_id": PROJECT,
            "region": "cn-bj2",
            "availability_zone": "cn-bj2-02",
            "base_url": base_url,
            "source_image_id": SOURCE_IMAGE,
            "instance_type": "n-basic-1",
            "image_name": "kiln-ucloud-bare",
            "communicator": "none"
        }]
    })
}

/// Writes `template` as `ucloud.json` in `d`, runs `kiln build` on it,
/// and returns the result with its stdout and stderr together.
fn build(d: &TestDir, template: &Value) -> (Run, String) {
    run_both(kiln_on(d, "ucloud.json", &template.to_string(), &["build"]))
}

/// What a build makes for itself and must delete, whatever its outcome.
const TEMPORARY: [&str; 2] = ["uhost", "eip"];

/// Fails unless the fake holds no UHost and no EIP.
fn assert_no_instance_left(fake: &UcloudFake) {
    assert_none_left(&fake.resources(), TEMPORARY);
}

/// The images the fake holds, as `(project, region, name, state)`.
fn images(fake: &UcloudFake) -> Vec<(String, String, String, String)> {
    let s = |i: &Value, k: &str| i[k].as_str().unwrap_or("").to_string();
    let mut v: Vec<_> = fake
        .rows("image")
        .iter()
        .map(|i| {
            (
                s(i, "ProjectId"),
                s(i, "Region"),
                s(i, "ImageName"),
                s(i, "State"),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_build_provisions_over_ssh_copies_to_projects_and_regions_and_leaves_only_images() {
    sshd::ensure_password_user();
    let fake = UcloudFake::start();
    let sshd = sshd::Sshd::start();
    let d = dir();
    let t = template(&fake, &fake.endpoint(), fake.private_key(), sshd.port);
    let (r, all) = build(&d, &t);
    assert_provisioned(&r, &all, "ucloud-uhost: hi from kilnssh", &fake.log());

    // The plugin's lines, in its order.
    assert_in_order(
        &r.stdout,
        [
            "==> ucloud-uhost: Validating project_id and copied project_ids...",
            "==> ucloud-uhost: Validating region and copied regions...",
            "==> ucloud-uhost: Validating availability_zone...",
            "==> ucloud-uhost: Querying source image id...",
            "==> ucloud-uhost: Trying to use default vpc...",
            "==> ucloud-uhost: Trying to use default subnet...",
            "==> ucloud-uhost: Trying to use default security group...",
            "==> ucloud-uhost: Creating Instance...",
            "    ucloud-uhost: Waiting for instance \"uhost-",
            "ucloud-uhost: hi from kilnssh",
            "==> ucloud-uhost: Stopping instance \"uhost-",
            "==> ucloud-uhost: Creating image kiln-ucloud-e2e...",
            "    ucloud-uhost: Waiting for the created image \"uimage-",
            "==> ucloud-uhost: Copying images from \"uimage-",
            "    ucloud-uhost: Waiting for the copied images to become available...",
            "==> ucloud-uhost: Deleting instance...",
        ],
    );

    // Three images, each Available where it belongs, are the artifact.
    let imgs = images(&fake);
    let want = |p: &str, r: &str, n: &str| {
        (
            p.to_string(),
            r.to_string(),
            n.to_string(),
            "Available".to_string(),
        )
    };
    assert_eq!(
        imgs,
        [
            want(OTHER_PROJECT, "hk", "kiln-ucloud-e2e"),
            want(PROJECT, "cn-bj2", "kiln-ucloud-e2e"),
            want(PROJECT, "cn-sh2", "kiln-ucloud-sh"),
        ],
        "{all}"
    );
    let rows = fake.rows("image");
    let id = |p: &str, r: &str| {
        rows.iter()
            .find(|i| i["ProjectId"] == p && i["Region"] == r)
            .map(|i| i["ImageId"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert!(
        all.contains(&format!(
            "UCloud images were created:\n\n{OTHER_PROJECT}: hk: {}\n{PROJECT}: cn-bj2: {}\n{PROJECT}: cn-sh2: {}",
            id(OTHER_PROJECT, "hk"),
            id(PROJECT, "cn-bj2"),
            id(PROJECT, "cn-sh2"),
        )),
        "{all}"
    );
    assert_no_instance_left(&fake);

    // The UHost was made as the plugin makes it, with the run tag, and
    // every call succeeded.
    let reqs = fake.requests();
    assert!(reqs.iter().all(|q| q.code == 0), "a call failed: {reqs:#?}");
    let create = reqs
        .iter()
        .find(|q| q.action == "CreateUHostInstance")
        .unwrap();
    for (k, v) in [
        ("Zone", "cn-bj2-02"),
        ("LoginMode", "Password"),
        ("Password", "***"),
        ("CPU", "2"),
        ("Memory", "4096"),
        ("MachineType", "N"),
        ("Disks.0.Type", "CLOUD_SSD"),
        ("Disks.0.Size", "20"),
        ("NetworkInterface.0.EIP.OperatorName", "Bgp"),
        ("NetworkInterface.0.EIP.PayMode", "Traffic"),
        ("NetworkInterface.0.EIP.Bandwidth", "10"),
        ("ChargeType", "Dynamic"),
    ] {
        assert_eq!(
            create.params.get(k).map(String::as_str),
            Some(v),
            "{k}: {create:#?}"
        );
    }
    assert!(create.params["Tag"].starts_with("kiln-"), "{create:#?}");
    assert!(create.params["SecurityGroupId"].starts_with("firewall-default"));
    let copies: Vec<(&str, &str)> = reqs
        .iter()
        .filter(|q| q.action == "CopyCustomImage")
        .map(|q| {
            (
                q.params["TargetProjectId"].as_str(),
                q.params["TargetRegion"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        copies.len(),
        2,
        "the copy into the build's own place is skipped"
    );
    assert!(copies.contains(&(OTHER_PROJECT, "hk")) && copies.contains(&(PROJECT, "cn-sh2")));
    let terminate = reqs
        .iter()
        .find(|q| q.action == "TerminateUHostInstance")
        .unwrap();
    assert_eq!(terminate.params["ReleaseEIP"], "true");

    // No secret anywhere.
    for secret in [fake.private_key(), sshd::PASSWORD] {
        assert!(!all.contains(secret), "a secret was printed: {all}");
    }
}

#[test]
fn a_zone_without_the_boot_disk_type_fails_before_anything_is_made() {
    let fake = UcloudFake::start();
    let d = dir();
    let mut t = bare_template(&fake, &fake.endpoint());
    t["builders"][0]["availability_zone"] = "cn-bj2-04".into();
    let (r, all) = build(&d, &t);
    assert_ne!(r.code, 0, "{all}");
    assert!(
        all.contains("the availability zone `cn-bj2-04` does not offer `boot_disk_type` `cloud_ssd`: it offers `cloud_rssd`, `local_normal`"),
        "{all}"
    );
    let actions = fake.actions();
    assert!(
        !actions.iter().any(|a| a.starts_with("Create")),
        "something was made: {actions:?}"
    );

    // A type the zone offers builds there.
    t["builders"][0]["boot_disk_type"] = "cloud_rssd".into();
    let (r, all) = build(&d, &t);
    assert_eq!(r.code, 0, "{all}");
    let create = fake
        .requests()
        .into_iter()
        .find(|q| q.action == "CreateUHostInstance")
        .unwrap();
    assert_eq!(create.params["Disks.0.Type"], "CLOUD_RSSD");
    assert_no_instance_left(&fake);
}

#[test]
fn a_local_boot_disk_is_waited_for_before_connecting() {
    let fake = UcloudFake::start();
    let d = dir();
    let mut t = bare_template(&fake, &fake.endpoint());
    t["builders"][0]["boot_disk_type"] = "local_normal".into();
    let (r, all) = build(&d, &t);
    assert_eq!(r.code, 0, "{all}");
    assert!(
        all.contains("Warning: It takes around 10 mins for boot disk initialization when `boot_disk_type` is \"local_normal\""),
        "{all}"
    );
    // The UHost was used once its disk was ready: the fake refuses a stop
    // before that, and refused nothing.
    assert!(fake.requests().iter().all(|q| q.code == 0));
}

#[test]
fn image_lookups_page_past_the_first_page() {
    use kiln_test::fault_proxy::{Fault, FaultProxy, Rule};
    let fake = UcloudFake::start();
    // 130 custom images: the one the build makes is on the second page
    // of 100 (UCloud's default page is 20).
    fake.seed_images(PROJECT, "cn-bj2", 130, "older");
    // A lost reply to CreateCustomImage: the retry must find the image the
    // first attempt made, past those 130, and adopt it.
    let proxy = FaultProxy::start(
        &fake.endpoint(),
        ucloud("153"),
        11,
        vec![Rule::new(Fault::LostReply)
            .on(&["CreateCustomImage"])
            .limit(1)],
    )
    .expect("start the fault proxy");
    let d = dir();
    let (r, all) = build(&d, &bare_template(&fake, &proxy.endpoint()));
    assert_eq!(r.code, 0, "{all}\n{}", proxy.summary());
    assert_eq!(
        proxy.fired_on("CreateCustomImage", Fault::LostReply.kind()),
        1
    );
    let made: Vec<_> = images(&fake)
        .into_iter()
        .filter(|i| i.2 == "kiln-ucloud-bare")
        .collect();
    assert_eq!(
        made.len(),
        1,
        "the image was made once and adopted: {made:?}"
    );
    assert_eq!(fake.rows("image").len(), 131);
    let pages: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|q| {
            q.action == "DescribeImage"
                && q.params.get("ImageType").map(String::as_str) == Some("Custom")
        })
        .map(|q| q.params["Offset"].clone())
        .collect();
    assert!(
        pages.contains(&"100".to_string()),
        "no second page was read: {pages:?}"
    );
    assert_no_instance_left(&fake);
}

#[test]
fn wrong_credentials_fail_clearly_and_create_nothing() {
    let fake = UcloudFake::start();
    let d = dir();
    let t = template(&fake, &fake.endpoint(), "not-the-private-key", 22);
    let (r, all) = build(&d, &t);
    assert_bad_credentials(
        &r,
        &all,
        "Signature VerifyAC Error",
        "`public_key` and `private_key`",
        "not-the-private-key",
    );
    assert_eq!(fake.actions(), ["GetProjectList -> 170"]);
}

#[test]
fn a_failing_provisioner_deletes_the_uhost_its_eip_and_no_image_is_made() {
    sshd::ensure_password_user();
    let fake = UcloudFake::start();
    let sshd = sshd::Sshd::start();
    let d = dir();
    let mut t = template(&fake, &fake.endpoint(), fake.private_key(), sshd.port);
    t["provisioners"][0]["inline"] = serde_json::json!(["exit 3"]);
    let (r, all) = build(&d, &t);
    assert_ne!(r.code, 0, "{all}");
    assert!(all.contains("Deleting instance..."), "{all}");
    assert_no_instance_left(&fake);
    assert!(images(&fake).is_empty(), "{:?}", images(&fake));
}

#[test]
fn a_copy_into_an_unknown_project_fails_in_pre_validation() {
    let fake = UcloudFake::start();
    let d = dir();
    let mut t = bare_template(&fake, &fake.endpoint());
    t["builders"][0]["image_copy_to_mappings"] =
        serde_json::json!([{"project_id": "org-nope", "region": "nowhere"}]);
    let (r, all) = build(&d, &t);
    assert_ne!(r.code, 0, "{all}");
    assert!(all.contains("got `org-nope`"), "{all}");
    assert_eq!(fake.actions(), ["GetProjectList"]);
}

#[test]
fn the_private_key_and_the_password_appear_nowhere() {
    let fake = UcloudFake::start();
    let d = dir();
    let mut t = bare_template(&fake, &fake.endpoint());
    t["builders"][0]["ssh_password"] = "Kiln-secret-pw9".into();
    t["post-processors"] = serde_json::json!([{"type": "manifest", "output": "manifest.json"}]);
    let mut c = kiln_on(
        &d,
        "ucloud.json",
        &t.to_string(),
        &["build", "-machine-readable"],
    );
    c.env("PACKER_LOG", "1");
    let (r, all) = run_both(c);
    assert_eq!(r.code, 0, "{all}");
    let manifest = std::fs::read_to_string(d.path().join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"artifact_id\": \"org-kiln:cn-bj2:uimage-"),
        "{manifest}"
    );
    for secret in [fake.private_key(), "Kiln-secret-pw9"] {
        assert!(!all.contains(secret), "`{secret}` was printed");
        assert!(!manifest.contains(secret), "`{secret}` is in the manifest");
    }
}

/// UCloud's API for the fault proxy: the action is `Action=` of the form
/// body; errors are UCloud's `{"RetCode", "Action", "Message"}`, with HTTP
/// 200 for a RetCode (throttling is RetCode `throttle`, 5xx RetCode 150).
fn ucloud(throttle: &str) -> JsonApi {
    JsonApi {
        action: |r| {
            let body = String::from_utf8_lossy(r.body);
            form_value(&body, "Action").or_else(|| form_value(r.uri.query()?, "Action"))
        },
        throttle: (200, throttle.to_string()),
        error: |_| "150",
        body: |code, _, _| {
            serde_json::json!({
                "RetCode": code.parse::<i64>().expect("a RetCode"), "Action": "Response",
                "Message": format!("RetCode {code} (injected by the test's fault proxy)"),
            })
        },
        content_type: "application/json",
    }
}

/// The fault matrix on UCloud: each case on its own fake and proxy, the
/// build without SSH and with one copy; one that succeeds made exactly
/// two images, and no case leaves a UHost or an EIP.
struct Faults;

impl FaultCloud for Faults {
    type Fake = UcloudFake;
    const TEMPORARY: &'static [&'static str] = &TEMPORARY;
    const BUILT: &'static [(&'static str, usize)] = &[("image", 2)];

    fn start(&self) -> (UcloudFake, String) {
        let fake = UcloudFake::start();
        let endpoint = fake.endpoint();
        (fake, endpoint)
    }

    fn dialect(&self, throttle: &'static str) -> JsonApi {
        ucloud(throttle)
    }

    fn build(&self, fake: &UcloudFake, d: &TestDir, endpoint: &str) -> (Run, String) {
        let mut t = bare_template(fake, endpoint);
        t["builders"][0]["image_copy_to_mappings"] =
            serde_json::json!([{"project_id": OTHER_PROJECT, "region": "cn-sh2"}]);
        build(d, &t)
    }

    fn resources(&self, fake: &UcloudFake) -> Value {
        fake.resources()
    }

    fn secret<'a>(&self, fake: &'a UcloudFake) -> &'a str {
        fake.private_key()
    }

    fn names_the_call(&self, action: &str, all: &str) -> bool {
        all.contains(action) || all.contains("creating")
    }
}

/// The creating and changing calls the matrix hits.
const CALLS: [&str; 4] = [
    "CreateUHostInstance",
    "StopUHostInstance",
    "CreateCustomImage",
    "CopyCustomImage",
];

#[test]
fn uclouds_throttling_on_the_main_calls_is_retried_and_leaves_nothing() {
    fault_matrix(&Faults, FaultCase::throttling(&CALLS, &["153", "150"]));
}

#[test]
fn errors_resets_and_lost_replies_on_the_main_calls_leave_nothing() {
    let mut cases = FaultCase::transient(&CALLS, "153");
    // A fault that does not stop: the build gives up, clearly, and
    // leaves nothing.
    cases.push(FaultCase {
        action: "CreateUHostInstance",
        fault: kiln_test::fault_proxy::Fault::Throttle,
        throttle: "153",
        limit: None,
    });
    fault_matrix(&Faults, cases);
}
