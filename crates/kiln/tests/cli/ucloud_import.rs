//! `kiln build` with the `ucloud-import` post-processor against the FAKE
//! UCloud API (`fakes/ucloud`, started per test by
//! `kiln_test::ucloud_fake`): the `file` builder writes a small disk image,
//! and ucloud-import uploads it to the fake's UFile (kiln's
//! `ufile_endpoint`, path style) with UFile's token, imports it with
//! `ImportCustomImage` through `base_url`, waits until it is Available and
//! deletes the upload. The bucket must exist, as in the plugin: each test
//! makes it with a signed `CreateBucket` (the fake's own API). The tests
//! check what the run left in the fake (`rows()`) and the calls it made.

use std::process::Command;

use kiln_test::ucloud_fake::{self, UcloudFake, PROJECT};
use serde_json::Value;

use crate::support::*;

/// The bucket the templates upload to.
const BUCKET: &str = "kiln-import-test";

/// Makes `bucket` in the fake with a signed `CreateBucket` (UCloud's API
/// signature, computed by Python's hashlib as the fake's README gives it).
fn create_bucket(fake: &UcloudFake, bucket: &str) {
    let script = r#"
import hashlib, json, sys, urllib.parse, urllib.request
url, public, private, bucket, project = sys.argv[1:6]
p = {"Action": "CreateBucket", "BucketName": bucket, "Region": "cn-bj", "Type": "private",
     "ProjectId": project, "PublicKey": public}
p["Signature"] = hashlib.sha1(("".join(k + p[k] for k in sorted(p)) + private).encode()).hexdigest()
reply = json.load(urllib.request.urlopen(url, urllib.parse.urlencode(p).encode()))
assert reply["RetCode"] == 0, reply
"#;
    let out = Command::new(ucloud_fake::python())
        .args([
            "-c",
            script,
            &fake.endpoint(),
            fake.public_key(),
            fake.private_key(),
            bucket,
            PROJECT,
        ])
        .output()
        .expect("run python for CreateBucket");
    assert!(
        out.status.success(),
        "CreateBucket failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A file build writing `disk.raw`, then ucloud-import of it, with
/// `extra` keys merged into the post-processor (`null` removes one).
fn template(fake: &UcloudFake, private_key: &str, extra: Value) -> String {
    let pp = serde_json::json!({
        "type": "ucloud-import",
        "public_key": fake.public_key(),
        "private_key": private_key,
        "project_id": PROJECT,
        "region": "cn-bj2",
        "base_url": fake.endpoint(),
        "ufile_endpoint": fake.endpoint(),
        "ufile_bucket_name": BUCKET,
        "ufile_key_name": "{{ build_name }}-disk.raw",
        "image_name": "kiln-imported",
        "image_description": "imported by kiln",
        "image_os_type": "CentOS",
        "image_os_name": "CentOS 7.9 64位",
        "format": "raw",
        "wait_image_ready_timeout": 120
    });
    file_then(pp, extra)
}

/// Writes `template` in `d`, runs `kiln build` on it; the run with its
/// stdout and stderr together.
fn build(d: &TestDir, template: &str) -> (Run, String) {
    run_both(kiln_on(d, "import.json", template, &["build"]))
}

/// `kiln build` of the seed template in a new directory.
fn import(fake: &UcloudFake) -> (Run, String) {
    build(
        &dir(),
        &template(fake, fake.private_key(), serde_json::json!({})),
    )
}

/// The fake, with [`BUCKET`] made.
fn fake_with_bucket() -> UcloudFake {
    let fake = UcloudFake::start();
    create_bucket(&fake, BUCKET);
    fake
}

/// The custom images the fake holds (its base images are left out).
fn images(fake: &UcloudFake) -> Vec<Value> {
    fake.rows("image")
        .into_iter()
        .filter(|i| i["ImageType"] != "Base")
        .collect()
}

#[test]
fn a_raw_disk_becomes_an_image_and_the_upload_is_deleted() {
    let fake = fake_with_bucket();
    let (r, all) = import(&fake);
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{}", fake.log());

    // The plugin's lines, in its order.
    let key = "disk-disk.raw";
    assert_in_order(
        &r.stdout,
        [
        "==> disk: Running post-processor: ucloud-import".to_string(),
        format!("    disk (ucloud-import): Rendered ufile_key_name as {key}"),
        "    disk (ucloud-import): Looking for image in artifact".to_string(),
        format!("==> disk (ucloud-import): Waiting for uploading image file disk.raw to UFile: {BUCKET}/{key}..."),
        format!("==> disk (ucloud-import): Image file disk.raw has been uploaded to UFile: {BUCKET}/{key}"),
        format!("==> disk (ucloud-import): Waiting for importing image from UFile: {BUCKET}/{key} ..."),
        "==> disk (ucloud-import): Importing created ucloud image \"uimage-".to_string(),
        "in region \"cn-bj2\" Complete.".to_string(),
        format!("    disk (ucloud-import): Deleting import source UFile: {BUCKET}/{key}"),
        ],
    );

    let imgs = images(&fake);
    assert_eq!(imgs.len(), 1, "{imgs:#?}");
    let image = &imgs[0];
    let id = image["ImageId"].as_str().unwrap();
    assert_eq!(image["State"], "Available", "{image:#}");
    assert_eq!(image["ImageName"], "kiln-imported");
    assert_eq!(image["OsName"], "CentOS 7.9 64位");
    assert!(
        all.contains(&format!(
            "UCloud images were created:\n\n{PROJECT}: cn-bj2: {id}"
        )),
        "{all}"
    );
    // The object was really uploaded (with UFile's token) and is gone.
    let actions = fake.actions();
    for want in [
        "DescribeBucket",
        "InitiateMultipartUpload",
        "UploadPart",
        "FinishMultipartUpload",
        "ImportCustomImage",
        "DeleteFile",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "no `{want}` in {actions:?}"
        );
    }
    assert!(fake.rows("object").is_empty(), "{:#}", fake.resources());
    assert!(fake.rows("upload").is_empty(), "{:#}", fake.resources());
    assert_eq!(fake.rows("bucket").len(), 1);
    assert!(
        !all.contains(fake.private_key()),
        "the private key was printed: {all}"
    );
    assert!(
        !all.contains("Signature="),
        "the signed URL was printed: {all}"
    );
}

#[test]
fn skip_clean_keeps_the_uploaded_object() {
    let fake = fake_with_bucket();
    let d = dir();
    let (r, all) = build(
        &d,
        &template(
            &fake,
            fake.private_key(),
            serde_json::json!({"skip_clean": true, "format": "raw", "ufile_key_name": null}),
        ),
    );
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{}", fake.log());
    let objects = fake.rows("object");
    assert_eq!(objects.len(), 1, "{objects:#?}");
    let key = objects[0]["Key"].as_str().unwrap();
    // The plugin's default key, `packer-import-{{timestamp}}.<format>`.
    assert!(
        key.starts_with("packer-import-") && key.ends_with(".raw"),
        "{key}"
    );
    assert_eq!(objects[0]["Size"], "not really a disk, but bytes".len());
    assert!(!all.contains("Deleting import source"), "{all}");
    assert_eq!(images(&fake).len(), 1);
}

/// The plugin's `AsyncMPut`: UFile's single `PUT` stops at 5 GB, so
/// every upload is multipart, in the 4 MiB parts UFile asks for.
#[test]
fn a_disk_larger_than_a_part_goes_up_in_parts_in_order() {
    let fake = fake_with_bucket();
    let d = dir();
    // 2 whole parts and a short one, every byte telling its place.
    let disk: Vec<u8> = (0..(9u32 << 20) + 4099).map(|i| (i % 251) as u8).collect();
    std::fs::write(d.path().join("big.raw"), &disk).unwrap();
    let mut t: Value = serde_json::from_str(&template(
        &fake,
        fake.private_key(),
        serde_json::json!({"skip_clean": true}),
    ))
    .unwrap();
    t["builders"][0] = serde_json::json!({
        "type": "file", "name": "disk", "target": "disk.raw", "source": "big.raw"
    });
    let (r, all) = build(&d, &t.to_string());
    assert_eq!(r.code, 0, "{all}\n--- fake ---\n{}", fake.log());
    let parts = fake
        .actions()
        .iter()
        .filter(|a| a.as_str() == "UploadPart")
        .count();
    assert_eq!(parts, 3, "{:?}", fake.actions());
    let objects = fake.rows("object");
    assert_eq!(objects.len(), 1, "{objects:#?}");
    assert_eq!(objects[0]["Size"], disk.len() as u64);
    assert!(fake.rows("upload").is_empty(), "{:#}", fake.resources());
    assert_eq!(images(&fake).len(), 1);
}

#[test]
fn a_refused_part_aborts_the_upload_and_leaves_no_parts() {
    let fake = fake_with_bucket();
    fake.fail("UploadPart", -37006, 1);
    let (r, all) = import(&fake);
    assert_ne!(r.code, 0, "{all}");
    assert!(all.contains("Failed to Upload image file"), "{all}");
    assert!(all.contains("-37006"), "{all}");
    let actions = fake.actions();
    assert!(
        actions.iter().any(|a| a == "AbortMultipartUpload"),
        "{actions:?}"
    );
    assert!(fake.rows("upload").is_empty(), "{:#}", fake.resources());
    assert!(fake.rows("object").is_empty(), "{:#}", fake.resources());
    assert!(images(&fake).is_empty());
}

#[test]
fn a_failed_import_deletes_the_upload() {
    let fake = fake_with_bucket();
    fake.fail("ImportCustomImage", 230, 1);
    let (r, all) = import(&fake);
    assert_ne!(r.code, 0, "{all}");
    assert!(
        all.contains(&format!(
            "Failed to import image from UFile: {BUCKET}/disk-disk.raw"
        )),
        "{all}"
    );
    assert!(all.contains("Deleting the import source"), "{all}");
    assert!(fake.rows("object").is_empty(), "{:#}", fake.resources());
    assert!(images(&fake).is_empty());
    let actions = fake.actions();
    assert!(
        actions.iter().any(|a| a == "FinishMultipartUpload"),
        "{actions:?}"
    );
    assert_eq!(
        actions.last().map(String::as_str),
        Some("DeleteFile"),
        "{actions:?}"
    );
}

#[test]
fn a_missing_bucket_fails_before_anything_is_uploaded() {
    let fake = UcloudFake::start();
    let (r, all) = import(&fake);
    assert_ne!(r.code, 0, "{all}");
    assert!(
        all.contains(&format!("the bucket `{BUCKET}` does not exist")),
        "{all}"
    );
    assert!(!fake
        .actions()
        .iter()
        .any(|a| a.contains("Multipart") || a == "UploadPart"));
}

#[test]
fn bad_credentials_fail_clearly_and_never_print_the_private_key() {
    let fake = fake_with_bucket();
    let wrong = "kiln-wrong-private-key-value";
    let d = dir();
    let (r, all) = build(&d, &template(&fake, wrong, serde_json::json!({})));
    assert_bad_credentials(
        &r,
        &all,
        "Signature VerifyAC Error",
        "`public_key` and `private_key`",
        wrong,
    );
    assert!(fake.rows("object").is_empty());
    assert!(images(&fake).is_empty());
}

#[test]
fn validate_reports_every_problem_at_once() {
    let d = dir();
    let t = serde_json::json!({
        "builders": [{"type": "file", "target": "disk.raw", "content": "x"}],
        "post-processors": [{
            "type": "ucloud-import",
            "private_key": "kiln-secret-in-validate",
            "image_name": "bad/name",
            "image_os_type": "Gentoo",
            "format": "iso",
            "ufile_endpoint": "ftp://x"
        }]
    })
    .to_string();
    let (r, all) = run_both(kiln_on(&d, "import.json", &t, &["validate"]));
    assert_ne!(r.code, 0, "{all}");
    for want in [
        "`region`",
        "`project_id`",
        "`public_key` is not",
        "`ufile_bucket_name` must be set",
        "`image_os_name` must be set",
        "expected `image_name` to be 1-63 characters",
        "expected `image_os_type` to be one of",
        "expected `format` only be one of",
        "`ufile_endpoint` must be an http://",
    ] {
        assert!(all.contains(want), "`{want}` missing from:\n{all}");
    }
    assert!(!all.contains("kiln-secret-in-validate"), "{all}");
}

#[test]
fn ctrl_c_while_importing_deletes_the_image_and_the_upload() {
    let fake = fake_with_bucket();
    // An import of about ten seconds (the fake's 300 scaled): long enough
    // to press Ctrl-C while it runs. UCloud refuses to delete an image
    // still being made, so kiln waits for the import to end, then deletes.
    fake.set_time_scale(0.03);
    let d = dir();
    let t = template(&fake, fake.private_key(), serde_json::json!({}));
    let (child, image) = spawn_until(
        kiln_on(&d, "import.json", &t, &["build"]),
        "the import",
        || images(&fake).into_iter().next(),
        || fake.log(),
    );
    assert_eq!(image["State"], "Making", "{image:#}");
    assert_eq!(fake.rows("object").len(), 1);
    let all = interrupt_cleanly(child);
    assert!(all.contains("Deleting the imported image uimage-"), "{all}");
    assert!(images(&fake).is_empty(), "{:#}", fake.resources());
    assert!(fake.rows("object").is_empty(), "{:#}", fake.resources());
    // The bucket is the user's.
    assert_eq!(fake.rows("bucket").len(), 1);
}
