//! The OSS client's tests: signatures against vectors computed by
//! Alibaba's own `oss2` 2.19.1 (`oss2.Auth('LTAIexample',
//! 'example-secret')`'s `__get_string_to_sign` and `__make_signature` on
//! requests with a fixed `Date`; the strings to sign are the same too),
//! CRC-64 against the XZ check value,
//! URL styles, and uploads (one PutObject and multipart, tagged, CRC
//! checked) against the fake Alibaba Cloud API.

use super::*;
use kiln_sdk::Secret;
use kiln_test::alicloud_fake::AlicloudFake;

const DATE: &str = "Thu, 01 Jan 2026 00:00:00 GMT";

fn s(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn signatures_match_oss2() {
    let cases = [
        // PutObject with object tags.
        (
            string_to_sign(
                "PUT",
                "",
                "application/octet-stream",
                DATE,
                &s(&[("x-oss-tagging", "kiln%3Arun=r-1&team=kiln")]),
                "kiln-images",
                "disk.raw",
                &[],
            ),
            "cGBOa/k0fdQ2yYfAt0Y06tsTemk=",
        ),
        // InitiateMultipartUpload: `uploads` is a sub-resource.
        (
            string_to_sign(
                "POST",
                "",
                "",
                DATE,
                &[],
                "kiln-images",
                "big.raw",
                &s(&[("uploads", "")]),
            ),
            "L7VWQS85q95U1LooGDwJpnxkWUM=",
        ),
        // UploadPart: sub-resources sorted.
        (
            string_to_sign(
                "PUT",
                "",
                "",
                DATE,
                &[],
                "kiln-images",
                "big.raw",
                &s(&[("uploadId", "ABC"), ("partNumber", "2")]),
            ),
            "WFdatpCg2jse+G7GJhgEKnXzl5M=",
        ),
        // ListBuckets: `prefix` and `max-keys` are not signed.
        (
            string_to_sign(
                "GET",
                "",
                "",
                DATE,
                &[],
                "",
                "",
                &s(&[("prefix", "kiln-images"), ("max-keys", "1")]),
            ),
            "sURpX2iePYohnBfQ27ovPmByKdI=",
        ),
    ];
    assert_eq!(
        cases[0].0,
        "PUT\n\napplication/octet-stream\nThu, 01 Jan 2026 00:00:00 GMT\nx-oss-tagging:kiln%3Arun=r-1&team=kiln\n/kiln-images/disk.raw"
    );
    assert_eq!(
        cases[2].0,
        "PUT\n\n\nThu, 01 Jan 2026 00:00:00 GMT\n/kiln-images/big.raw?partNumber=2&uploadId=ABC"
    );
    for (sts, want) in cases {
        assert_eq!(
            authorization("LTAIexample", "example-secret", &sts),
            format!("OSS LTAIexample:{want}"),
            "{sts:?}"
        );
    }
}

#[test]
fn crc64_is_xz_s() {
    // The CRC-64/XZ check value of "123456789".
    let mut c = Crc64::new();
    c.update(b"1234");
    c.update(b"56789");
    assert_eq!(c.finish(), 0x995D_C9BB_DF19_39FA);
    assert_eq!(Crc64::new().finish(), 0);
}

fn key(fake: &AlicloudFake) -> AccessKey {
    AccessKey {
        id: fake.access_key().to_string(),
        secret: Secret::new(fake.secret_key().to_string()),
        security_token: None,
    }
}

#[test]
fn urls_are_virtual_host_or_path_style_as_the_sdks_make_them() {
    let k = AccessKey {
        id: "LTAIexample".into(),
        secret: Secret::new("x".to_string()),
        security_token: None,
    };
    let o = Oss::new("cn-beijing", k.clone(), None).unwrap();
    assert_eq!(o.bucket_url("b1"), "https://b1.oss-cn-beijing.aliyuncs.com");
    assert_eq!(
        o.url("b1", "dir/a b.raw", "uploads"),
        "https://b1.oss-cn-beijing.aliyuncs.com/dir/a%20b.raw?uploads"
    );
    assert_eq!(
        o.url("", "", "prefix=b1"),
        "https://oss-cn-beijing.aliyuncs.com/?prefix=b1"
    );
    assert_eq!(
        default_endpoint("oss-cn-hangzhou"),
        "https://oss-cn-hangzhou.aliyuncs.com"
    );
    let p = Oss::new("cn-beijing", k.clone(), Some("http://127.0.0.1:9000/")).unwrap();
    assert_eq!(p.bucket_url("b1"), "http://127.0.0.1:9000/b1");
    assert_eq!(p.url("b1", "k", ""), "http://127.0.0.1:9000/b1/k");
    let named = Oss::new("cn-beijing", k, Some("https://oss.example.com")).unwrap();
    assert_eq!(named.bucket_url("b1"), "https://b1.oss.example.com");
    assert_eq!(
        tagging(&s(&[("kiln:run", "r 1"), ("team", "kiln")])),
        "kiln%3Arun=r%201&team=kiln"
    );
}

/// The object `key` of `bucket` as the fake holds it.
fn object(fake: &AlicloudFake, bucket: &str, key: &str) -> Option<serde_json::Value> {
    fake.resources()["object"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["Bucket"] == bucket && o["Key"] == key)
        .cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_reach_the_fake_tagged_in_one_put_or_in_parts() {
    let fake = AlicloudFake::start();
    let oss = Oss::new("cn-hangzhou", key(&fake), Some(&fake.endpoint())).unwrap();
    assert_eq!(oss.find_bucket("kiln-up").await.unwrap(), None);
    oss.create_bucket("kiln-up").await.unwrap();
    assert_eq!(
        oss.find_bucket("kiln-up").await.unwrap(),
        Some(Bucket {
            name: "kiln-up".into(),
            region: "cn-hangzhou".into()
        })
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.raw");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let tags = s(&[("kiln:run", "r-1")]);
    let progress = Arc::new(AtomicU64::new(0));

    // One PutObject.
    let mut m = None;
    let one = UploadPlan {
        threshold: 1 << 20,
        part_size: 1 << 20,
    };
    oss.upload(
        "kiln-up", "one.raw", &path, 300_000, &tags, one, &progress, &mut m,
    )
    .await
    .unwrap();
    assert!(m.is_none());
    assert_eq!(progress.load(Ordering::Relaxed), 300_000);
    let o = object(&fake, "kiln-up", "one.raw").unwrap();
    assert_eq!(o["Size"], 300_000);
    assert_eq!(o["Tags"]["kiln:run"], "r-1");

    // Parts of 128 KiB: three of them.
    let parts = UploadPlan {
        threshold: 100_000,
        part_size: 128 * 1024,
    };
    oss.upload(
        "kiln-up",
        "dir/parts.raw",
        &path,
        300_000,
        &tags,
        parts,
        &progress,
        &mut m,
    )
    .await
    .unwrap();
    assert!(m.is_none(), "the upload is complete");
    let o = object(&fake, "kiln-up", "dir/parts.raw").unwrap();
    assert_eq!(o["Size"], 300_000);
    assert_eq!(o["Tags"]["kiln:run"], "r-1");
    let actions: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.service == "oss")
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [
            "ListBuckets",
            "PutBucket",
            "ListBuckets",
            "PutObject",
            "InitiateMultipartUpload",
            "UploadPart",
            "UploadPart",
            "UploadPart",
            "CompleteMultipartUpload"
        ]
    );

    // Deleting: the objects, then the empty bucket; twice is no error.
    for k in ["one.raw", "dir/parts.raw", "dir/parts.raw"] {
        oss.delete_object("kiln-up", k).await.unwrap();
    }
    oss.delete_bucket("kiln-up").await.unwrap();
    oss.delete_bucket("kiln-up").await.unwrap();
    assert!(fake.resources()["bucket"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unfinished_multipart_upload_is_aborted() {
    let fake = AlicloudFake::start();
    let oss = Oss::new("cn-hangzhou", key(&fake), Some(&fake.endpoint())).unwrap();
    oss.create_bucket("kiln-abort").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The file is gone once the upload starts: the first part fails.
    let path = dir.path().join("gone.raw");
    let mut m = None;
    let plan = UploadPlan {
        threshold: 10,
        part_size: 600,
    };
    let e = oss
        .upload(
            "kiln-abort",
            "k.raw",
            &path,
            1200,
            &[],
            plan,
            &Arc::new(AtomicU64::new(0)),
            &mut m,
        )
        .await
        .unwrap_err();
    assert_eq!(e.action, "UploadPart", "{e}");
    assert!(e.to_string().contains("cannot open"), "{e}");
    let m = m.expect("the unfinished upload is recorded");
    assert_eq!(fake.resources()["multipart"].as_array().unwrap().len(), 1);
    oss.abort_multipart(&m).await.unwrap();
    assert!(fake.resources()["multipart"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_an_error_naming_the_keys_and_never_the_secret() {
    let fake = AlicloudFake::start();
    let mut k = key(&fake);
    k.secret = Secret::new("not-the-secret-at-all".to_string());
    let oss = Oss::new("cn-hangzhou", k, Some(&fake.endpoint())).unwrap();
    let e = oss.create_bucket("kiln-denied").await.unwrap_err();
    assert_eq!(e.code(), Some("SignatureDoesNotMatch"));
    let text = format!("{e} {:?}", e.fault.hint);
    assert!(
        text.contains("check `access_key` and `secret_key`"),
        "{text}"
    );
    assert!(!text.contains("not-the-secret-at-all"), "{text}");
}
