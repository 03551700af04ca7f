//! `kiln build` with the `alicloud-import` post-processor against the FAKE
//! Alibaba Cloud API (`fakes/alicloud`, started per test by
//! `kiln_test::alicloud_fake`): the `file` builder writes a small disk
//! image, and alicloud-import uploads it to OSS and imports it, with ECS,
//! OSS and RAM all pointed at the fake (`custom_endpoint_ecs`,
//! `custom_endpoint_oss`, `custom_endpoint_ram`). On 127.0.0.1 the fake's
//! OSS is path-style and in `cn-hangzhou`, so the templates use that
//! region, and a template in `cn-beijing` is a bucket in the wrong region.
//! The tests check what the run left in the fake (`resources()`), the
//! calls it made (`requests()`), and that packer 1.6.6's recorded call
//! sequence for the same template (`fidelity/packer-1.6.6-import-actions.txt`)
//! is kiln's but for the documented differences.

use kiln_test::alicloud_fake::{self, AlicloudFake};
use serde_json::Value;

use crate::support::*;

/// The bucket the templates upload to.
const BUCKET: &str = "kiln-import-test";

/// A file build writing `disk.raw`, then alicloud-import of it, with
/// `extra` keys merged into the post-processor.
fn template(fake: &AlicloudFake, secret: &str, extra: Value) -> String {
    let pp = serde_json::json!({
        "type": "alicloud-import",
        "access_key": fake.access_key(),
        "secret_key": secret,
        "region": "cn-hangzhou",
        "custom_endpoint_ecs": fake.endpoint(),
        "custom_endpoint_oss": fake.endpoint(),
        "custom_endpoint_ram": fake.endpoint(),
        "oss_bucket_name": BUCKET,
        "oss_key_name": "{{ build_name }}-disk.raw",
        "image_name": "kiln-imported",
        "image_description": "imported by kiln",
        "image_os_type": "linux",
        "image_platform": "Ubuntu",
        "image_architecture": "x86_64",
        "image_system_size": "20",
        "format": "RAW",
        "tags": {"team": "kiln"}
    });
    file_then(pp, extra)
}

/// Writes `template` in `d`, runs `kiln build` on it; the run with its
/// stdout and stderr together.
fn build(d: &TestDir, template: &str) -> (Run, String) {
    run_both(kiln_on(d, "import.json", template, &["build"]))
}

/// The actions of the requests after the first `before`.
fn actions_since(fake: &AlicloudFake, before: usize) -> Vec<String> {
    fake.requests()[before..]
        .iter()
        .map(|q| q.action.clone())
        .collect()
}

/// `kiln build` in `d` of the template with `extra` and the right secret.
fn import(d: &TestDir, fake: &AlicloudFake, extra: Value) -> (Run, String) {
    build(d, &template(fake, fake.secret_key(), extra))
}

/// Where kiln's calls legitimately differ from packer's (each also in
/// docs/post-processors/alicloud-import.md): kiln looks only at the
/// account's own images (the same `DescribeImages`), takes the run tags
/// off the imported image once it is available (`UntagResources`).
fn expected_actions(packer: &[String]) -> Vec<String> {
    let mut want: Vec<String> = Vec::new();
    for line in packer {
        if line == "oss DeleteObject cn-hangzhou" {
            want.push("ecs UntagResources cn-hangzhou".into());
            want.push("oss DeleteBucketTags cn-hangzhou".into());
        }
        want.push(line.clone());
        if line == "oss PutBucket cn-hangzhou" {
            want.push("oss PutBucketTags cn-hangzhou".into());
        }
    }
    want
}

/// Fails unless the fake's calls are packer 1.6.6's recorded sequence
/// `recorded` (in `fidelity/`) but for the documented differences.
fn assert_packers_calls(fake: &AlicloudFake, recorded: &str) {
    assert_eq!(
        fake.normalized_actions(),
        expected_actions(&alicloud_fake::recorded_actions(recorded))
    );
}

#[test]
fn a_raw_disk_becomes_an_image_and_the_upload_is_deleted() {
    let fake = AlicloudFake::start();
    let d = dir();
    let (r, all) = import(&d, &fake, serde_json::json!({}));
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{}", fake.log());

    // Packer 1.6.6's lines, in its order.
    let key = "disk-disk.raw";
    let endpoint = format!("{}/{BUCKET}", fake.endpoint());
    assert_in_order(
        &r.stdout,
        [
        "==> disk: Running post-processor: alicloud-import".to_string(),
        format!("==> disk (alicloud-import): Rendered oss_key_name as {key}"),
        "==> disk (alicloud-import): Looking for RAW or VHD in artifact".to_string(),
        format!("==> disk (alicloud-import): Waiting for uploading file disk.raw to {endpoint}/{key}..."),
        "==> disk (alicloud-import): Image file disk.raw has been uploaded to OSS".to_string(),
        format!("==> disk (alicloud-import): Waiting for importing {endpoint}/{key} to alicloud..."),
        "==> disk (alicloud-import): Importing created alicloud image ID m-".to_string(),
        format!("    disk (alicloud-import): Deleting import source {endpoint}/{BUCKET}/{key}"),
        ],
    );

    let res = fake.resources();
    let images = rows(&res, "image");
    assert_eq!(images.len(), 1, "{res:#}");
    let image = &images[0];
    let id = image["ImageId"].as_str().unwrap();
    assert!(
        all.contains(&format!(
            "Alicloud images were created:\n\ncn-hangzhou: {id}"
        )),
        "{all}"
    );
    assert_eq!(image["Status"], "Available", "{image:#}");
    assert_eq!(image["ImageName"], "kiln-imported");
    assert_eq!(image["Description"], "imported by kiln");
    assert_eq!(image["Platform"], "Ubuntu");
    assert_eq!(image["OSType"], "linux");
    assert_eq!(image["Architecture"], "x86_64");
    let disk = &image["disks"][0];
    assert_eq!(disk["ImportOSSBucket"], BUCKET, "{image:#}");
    assert_eq!(disk["ImportOSSObject"], key, "{image:#}");
    assert_eq!(disk["Format"], "RAW", "{image:#}");
    assert_eq!(disk["Size"], 20, "{image:#}");
    // The template's tags; the run tags were taken off once it was made.
    assert_eq!(
        image["tags"],
        serde_json::json!({"team": "kiln"}),
        "{image:#}"
    );
    let tagged = fake
        .requests()
        .into_iter()
        .find(|q| q.action == "ImportImage")
        .unwrap();
    assert_eq!(tagged.code, None);
    // The upload is gone; the bucket (made for it) stays, as in Packer.
    assert!(rows(&res, "object").is_empty(), "{res:#}");
    assert_eq!(rows(&res, "bucket").len(), 1, "{res:#}");
    assert!(
        !all.contains(fake.secret_key()),
        "the secret was printed: {all}"
    );

    // The same calls as packer 1.6.6, but for the documented differences.
    assert_packers_calls(&fake, "packer-1.6.6-import-actions.txt");
}

/// With `ram_role_name` and no keys, the calls (ECS, OSS, RAM) are signed
/// with the STS credentials of the instance's RAM role, read from the ECS
/// metadata service (which the fake plays): with no other credentials, the
/// import can only succeed with those.
#[test]
fn ram_role_credentials_sign_the_upload_and_the_import() {
    let fake = AlicloudFake::start();
    let d = dir();
    let t = template(
        &fake,
        "",
        serde_json::json!({
            "access_key": null,
            "secret_key": null,
            "ram_role_name": "AliyunECSImageImportDefaultRole",
        }),
    );
    let mut c = kiln_on(&d, "import.json", &t, &["build"]);
    c.env("KILN_ALICLOUD_METADATA_ENDPOINT", fake.endpoint())
        .env_remove("ALICLOUD_ACCESS_KEY")
        .env_remove("ALICLOUD_SECRET_KEY");
    let (r, all) = run_both(c);
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{}", fake.log());
    let res = fake.resources();
    assert_eq!(rows(&res, "image").len(), 1, "{res:#}");
    assert!(rows(&res, "object").is_empty(), "{res:#}");
    let reqs = fake.requests();
    assert!(reqs.iter().any(|q| q.action == "ImportImage"), "{reqs:#?}");
}

#[test]
fn the_upload_and_the_import_carry_the_run_tags() {
    let fake = AlicloudFake::start();
    let d = dir();
    let (r, all) = import(&d, &fake, serde_json::json!({"skip_clean": true}));
    assert_eq!(r.code, 0, "{all}");
    // ImportImage and the upload named the run.
    let log = fake.request_log();
    let import = log
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["action"] == "ImportImage")
        .unwrap();
    let params = &import["params"];
    let tag_keys: Vec<&str> = (1..=3)
        .filter_map(|n| params[format!("Tag.{n}.Key")].as_str())
        .collect();
    assert_eq!(tag_keys, ["kiln:build", "kiln:run", "team"], "{import:#}");
    // skip_clean: the object stays, its run tags taken off.
    let res = fake.resources();
    let objects = rows(&res, "object");
    assert_eq!(objects.len(), 1, "{res:#}");
    assert_eq!(objects[0]["Key"], "disk-disk.raw");
    assert_eq!(objects[0]["Tags"], serde_json::json!({}), "{res:#}");
    let oss: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|q| q.service == "oss")
        .map(|q| q.action)
        .collect();
    assert_eq!(
        oss,
        [
            "ListBuckets",
            "PutBucket",
            "PutBucketTags",
            "PutObject",
            "DeleteBucketTags",
            "DeleteObjectTagging"
        ]
    );
    // The bucket it made carried the run tags until the import succeeded.
    let buckets = rows(&res, "bucket");
    assert_eq!(buckets.len(), 1, "{res:#}");
    assert_eq!(buckets[0]["Tags"], serde_json::json!({}), "{res:#}");
    assert!(!all.contains("Deleting import source"), "{all}");
}

#[test]
fn a_missing_import_role_is_created_with_its_policy() {
    let fake = AlicloudFake::start_with(&alicloud_fake::Options {
        no_import_role: true,
        ..Default::default()
    });
    let d = dir();
    let (r, all) = import(&d, &fake, serde_json::json!({}));
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{}", fake.log());
    assert!(
        all.contains("initialize ram role for importing image"),
        "{all}"
    );
    let res = fake.resources();
    let roles = rows(&res, "role");
    assert_eq!(roles.len(), 1, "{res:#}");
    assert_eq!(roles[0]["RoleName"], "AliyunECSImageImportDefaultRole");
    assert_eq!(
        roles[0]["policies"],
        serde_json::json!(["AliyunECSImageImportRolePolicy"])
    );
    let doc: Value =
        serde_json::from_str(roles[0]["AssumeRolePolicyDocument"].as_str().unwrap()).unwrap();
    assert_eq!(
        doc["Statement"][0]["Principal"]["Service"][0],
        "ecs.aliyuncs.com"
    );
    let calls: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|q| matches!(q.service.as_str(), "ram") || q.action == "ImportImage")
        .map(|q| format!("{} {}", q.action, q.code.unwrap_or_default()))
        .collect();
    assert_eq!(
        calls,
        [
            "ImportImage NoSetRoletoECSServiceAcount",
            "GetRole EntityNotExist.Role",
            "CreateRole ",
            "AttachPolicyToRole ",
            "ImportImage ",
        ]
    );
    assert_eq!(rows(&res, "image").len(), 1, "{res:#}");
    // packer 1.6.6 makes the same calls (and then sleeps a minute).
    assert_packers_calls(&fake, "packer-1.6.6-import-role-actions.txt");
}

#[test]
fn a_failed_import_deletes_the_upload_and_the_bucket_it_made() {
    let fake = AlicloudFake::start();
    let d = dir();
    // The fake's path-style OSS is in cn-hangzhou: the new bucket is not
    // in the image's region, and ImportImage says so after the upload.
    let (r, all) = import(&d, &fake, serde_json::json!({"region": "cn-beijing"}));
    assert_ne!(r.code, 0, "{all}");
    assert!(
        all.contains("cannot start the import from")
            && all.contains("InvalidOSSBucket.RegionMismatch"),
        "{all}"
    );
    assert!(
        all.contains("Deleting the import source kiln-import-test/disk-disk.raw because of cancellation or error..."),
        "{all}"
    );
    assert_none_left(
        &fake.resources(),
        ["image", "object", "multipart", "bucket", "snapshot"],
    );
    assert!(!all.contains(fake.secret_key()), "{all}");
}

#[test]
fn an_existing_image_or_a_bucket_elsewhere_fails_before_uploading() {
    let fake = AlicloudFake::start();
    let d = dir();
    let (r, all) = import(&d, &fake, serde_json::json!({}));
    assert_eq!(r.code, 0, "{all}");
    let first = rows(&fake.resources(), "image")[0]["ImageId"].clone();

    // The same name again: Packer's check, before anything is uploaded.
    let before = fake.requests().len();
    let (r, all) = import(&d, &fake, serde_json::json!({}));
    assert_ne!(r.code, 0, "{all}");
    assert!(
        all.contains("an image named `kiln-imported` exists already in `cn-hangzhou`")
            && all.contains("set `image_force_delete` to true"),
        "{all}"
    );
    let after = actions_since(&fake, before);
    assert_eq!(after, ["DescribeImages"]);

    // With image_force_delete the old image goes, the new one comes.
    let (r, all) = import(&d, &fake, serde_json::json!({"image_force_delete": true}));
    assert_eq!(r.code, 0, "{all}");
    let res = fake.resources();
    let images = rows(&res, "image");
    assert_eq!(images.len(), 1);
    assert_ne!(images[0]["ImageId"], first);

    // The bucket is in cn-hangzhou; a template in cn-beijing stops at once.
    let before = fake.requests().len();
    let (r, all) = import(
        &d,
        &fake,
        serde_json::json!({"region": "cn-beijing", "image_name": "kiln-elsewhere"}),
    );
    assert_ne!(r.code, 0, "{all}");
    assert!(
        all.contains(
            "the bucket `kiln-import-test` is in `cn-hangzhou`, not in `region` `cn-beijing`"
        ),
        "{all}"
    );
    let after = actions_since(&fake, before);
    assert_eq!(after, ["DescribeImages", "ListBuckets"]);
}

#[test]
fn wrong_credentials_fail_clearly_and_never_print_the_secret() {
    let fake = AlicloudFake::start();
    let d = dir();
    let (r, all) = build(
        &d,
        &template(&fake, "not-the-secret-value", serde_json::json!({})),
    );
    assert_bad_credentials(
        &r,
        &all,
        "SignatureDoesNotMatch",
        "`access_key` and `secret_key`",
        "not-the-secret-value",
    );
    assert_none_left(&fake.resources(), ["image", "object", "bucket"]);
}

#[test]
fn validate_reports_every_problem_and_warns_about_ignored_keys() {
    let d = dir();
    std::fs::write(
        d.path().join("bad.json"),
        r#"{
  "builders": [{"type": "file", "target": "disk.raw", "content": "x"}],
  "post-processors": [{
    "type": "alicloud-import",
    "region": "cn-hangzhou",
    "access_key": "LTAIexample",
    "secret_key": "example-secret",
    "format": "iso",
    "image_name": "kiln-imported"
  }]
}"#,
    )
    .unwrap();
    let (r, all) = run_both(d.kiln(&["validate", "bad.json"]));
    assert_ne!(r.code, 0, "{all}");
    assert!(all.contains("`oss_bucket_name` must be set"), "{all}");
    assert!(
        all.contains("`format` must be `raw` or `vhd` or `qcow2`, found `iso`"),
        "{all}"
    );
    assert!(
        all.contains("bad.json:8"),
        "the error points at `format`: {all}"
    );
    assert!(!all.contains("example-secret"), "{all}");

    std::fs::write(
        d.path().join("ok.json"),
        r#"{
  "builders": [{"type": "file", "target": "disk.raw", "content": "x"}],
  "post-processors": [{
    "type": "alicloud-import",
    "region": "cn-hangzhou",
    "access_key": "LTAIexample",
    "secret_key": "example-secret",
    "oss_bucket_name": "kiln-images",
    "image_name": "kiln-imported",
    "instance_type": "ecs.n1.tiny"
  }]
}"#,
    )
    .unwrap();
    let (r, all) = run_both(d.kiln(&["validate", "ok.json"]));
    assert_eq!(r.code, 0, "{all}");
    assert!(
        all.contains("`instance_type` is ignored by alicloud-import"),
        "{all}"
    );
}

#[test]
fn ctrl_c_while_importing_deletes_the_image_the_upload_and_the_bucket() {
    let fake = AlicloudFake::start();
    // A realistic import: five minutes, far longer than the test waits.
    fake.set_time_scale(1.0);
    let d = dir();
    let t = template(&fake, fake.secret_key(), serde_json::json!({}));
    let (child, res) = spawn_until(
        kiln_on(&d, "import.json", &t, &["build"]),
        "the import",
        || Some(fake.resources()).filter(|res| !rows(res, "image").is_empty()),
        || fake.log(),
    );
    // While it runs, the image and the upload carry kiln's run tags.
    let image = &rows(&res, "image")[0];
    assert_eq!(image["Status"], "Waiting", "{image:#}");
    assert_eq!(image["tags"]["kiln:build"], "disk", "{image:#}");
    let object = &rows(&res, "object")[0];
    assert_eq!(object["Tags"]["kiln:build"], "disk", "{object:#}");
    assert_eq!(object["Tags"]["kiln:run"], image["tags"]["kiln:run"]);
    let all = interrupt_cleanly(child);
    assert!(all.contains("Deleting the imported image m-"), "{all}");
    assert_none_left(
        &fake.resources(),
        ["image", "snapshot", "object", "multipart", "bucket"],
    );
}

/// The fault matrix on alicloud-import: each case on its own fake behind
/// the fault proxy (ECS and OSS through it); no upload is ever left, an
/// import that succeeded made one image, and one that failed left no
/// bucket either.
struct Faults;

impl FaultCloud for Faults {
    type Fake = AlicloudFake;
    const TEMPORARY: &'static [&'static str] = &["object", "multipart"];
    const BUILT: &'static [(&'static str, usize)] = &[("image", 1)];
    const FAILED_ALSO: &'static [&'static str] = &["bucket", "snapshot"];

    fn start(&self) -> (AlicloudFake, String) {
        let fake = AlicloudFake::start();
        let endpoint = fake.endpoint();
        (fake, endpoint)
    }

    fn seed(&self) -> u64 {
        11
    }

    fn dialect(&self, throttle: &'static str) -> JsonApi {
        crate::alicloud::alibaba(throttle)
    }

    fn build(&self, fake: &AlicloudFake, d: &TestDir, endpoint: &str) -> (Run, String) {
        let extra = serde_json::json!({
            "custom_endpoint_ecs": endpoint,
            "custom_endpoint_oss": endpoint,
        });
        build(d, &template(fake, fake.secret_key(), extra))
    }

    fn resources(&self, fake: &AlicloudFake) -> Value {
        fake.resources()
    }

    fn secret<'a>(&self, fake: &'a AlicloudFake) -> &'a str {
        fake.secret_key()
    }
}

/// The fault matrix of issue [3/10] on alicloud-import's calls: a fault
/// that stops is retried and the import succeeds with one image and no
/// upload left (a lost ImportImage reply adopts the image it made, a lost
/// or reset PutObject is sent again); one that does not stop fails the
/// build naming the call, with nothing left: no image, no upload, no
/// bucket.
#[test]
fn faults_on_the_upload_and_the_import_are_retried_or_leave_nothing() {
    use kiln_test::fault_proxy::Fault;
    let cases = [
        ("ImportImage", Fault::Throttle, Some(2)),
        ("ImportImage", Fault::Status(500), Some(2)),
        ("ImportImage", Fault::LostReply, Some(1)),
        ("PutObject", Fault::Reset, Some(1)),
        ("PutObject", Fault::LostReply, Some(1)),
        ("PutObject", Fault::Status(503), None),
        ("ImportImage", Fault::Throttle, None),
    ];
    let cases = cases
        .into_iter()
        .map(|(action, fault, limit)| FaultCase {
            action,
            fault,
            throttle: "Throttling.User",
            limit,
        })
        .collect();
    fault_matrix(&Faults, cases);
}
