//! The alicloud-import configuration's unit tests: typed values, the
//! environment, every error at once with its location, the builder's keys
//! accepted and warned about, secrets registered.

use super::*;
use kiln_sdk::config::Location;
use kiln_test::prepare_cx;
use serde_json::json;
use std::sync::Arc;

fn no_env(_: &str) -> Option<String> {
    None
}

fn base() -> serde_json::Value {
    json!({
        "access_key": "LTAIexample",
        "secret_key": "example-secret-value",
        "region": "cn-beijing",
        "oss_bucket_name": "kiln-images",
        "image_name": "kiln-imported"
    })
}

fn with(extra: serde_json::Value) -> serde_json::Value {
    let mut v = base();
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn prep(v: serde_json::Value) -> Result<Prepared, ConfigErrors> {
    prepare_with_env(&RawConfig::from_value(v), &prepare_cx("file"), &no_env)
}

#[test]
fn a_full_template_is_typed() {
    let p = prep(with(json!({
        "oss_key_name": "{{ build `ID` }}.raw",
        "skip_clean": true,
        "tags": {"team": "kiln"},
        "image_description": "imported by kiln",
        "image_os_type": "linux",
        "image_platform": "Ubuntu",
        "image_architecture": "x86_64",
        "image_system_size": 40,
        "format": "RAW",
        "image_force_delete": "true",
        "custom_endpoint_ecs": "ecs.example.com",
        "custom_endpoint_oss": "http://127.0.0.1:9000/",
        "custom_endpoint_ram": "https://ram.example.com"
    })))
    .unwrap();
    let c = p.config;
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(c.bucket, "kiln-images");
    // Left for run time: it may use the build's generated data.
    assert_eq!(c.object_key, "{{ build `ID` }}.raw");
    assert_eq!(c.source_object, SourceObject::Keep);
    assert_eq!(c.tags["team"], "kiln");
    assert_eq!(c.image_name.as_deref(), Some("kiln-imported"));
    assert_eq!(c.description.as_deref(), Some("imported by kiln"));
    assert_eq!(c.os_type, Some(OsType::Linux));
    assert_eq!(c.platform.as_deref(), Some("Ubuntu"));
    assert_eq!(c.architecture, Some(Architecture::X86_64));
    assert_eq!(c.system_size, Some(40));
    assert_eq!(c.format, Some(Format::Raw));
    assert_eq!(c.existing_image, ExistingImage::Delete);
    assert_eq!(
        c.access.custom_endpoint_ecs.as_deref(),
        Some("https://ecs.example.com")
    );
    assert_eq!(
        c.custom_endpoint_oss.as_deref(),
        Some("http://127.0.0.1:9000")
    );
    assert_eq!(
        c.custom_endpoint_ram.as_deref(),
        Some("https://ram.example.com")
    );
}

#[test]
fn defaults_leave_the_image_settings_to_ecs() {
    let c = prep(base()).unwrap().config;
    assert_eq!(c.object_key, "");
    assert_eq!(c.source_object, SourceObject::Delete);
    assert_eq!(c.existing_image, ExistingImage::Fail);
    assert_eq!(
        (c.os_type, c.architecture, c.format, c.system_size),
        (None, None, None, None)
    );
    assert!(c.platform.is_none() && c.description.is_none());
}

#[test]
fn force_deletes_existing_images() {
    let mut cx = prepare_cx("file");
    cx.force = true;
    let c = prepare_with_env(&RawConfig::from_value(base()), &cx, &no_env)
        .unwrap()
        .config;
    assert_eq!(c.existing_image, ExistingImage::Delete);
}

#[test]
fn credentials_and_region_come_from_the_environment() {
    let env = |k: &str| {
        match k {
            "ALICLOUD_ACCESS_KEY" => Some("LTAIfromenv"),
            "ALICLOUD_SECRET_KEY" => Some("env-secret-value"),
            "ALICLOUD_REGION" => Some("cn-hangzhou"),
            _ => None,
        }
        .map(String::from)
    };
    let cx = prepare_cx("file");
    let c = prepare_with_env(
        &RawConfig::from_value(json!({"oss_bucket_name": "kiln-images", "image_name": "x1"})),
        &cx,
        &env,
    )
    .unwrap()
    .config;
    assert_eq!(c.access.region, "cn-hangzhou");
    // The secret is registered: no output shows it.
    assert_eq!(
        cx.redactor.redact("key env-secret-value here"),
        "key <sensitive> here"
    );
}

#[test]
fn every_error_is_reported_at_once_with_its_location() {
    let mut raw = RawConfig::from_value(json!({
        "oss_key_name": "{{ .Broken",
        "format": "iso",
        "image_architecture": "amd64",
        "image_os_type": "Linux2",
        "image_system_size": "forty",
        "image_name": "has space",
        "image_description": "https://example.com",
        "tags": {"": "x"},
        "custom_endpoint_oss": "ftp://oss",
        "oss_bucket_nam": "typo"
    }));
    let line = |n: usize| Location {
        file: Arc::from("alicloud.json"),
        line: n,
        column: 7,
    };
    raw.spans = Arc::new(
        [
            ("oss_key_name", 3),
            ("format", 4),
            ("image_architecture", 5),
            ("oss_bucket_nam", 12),
        ]
        .into_iter()
        .map(|(k, n)| (k.to_string(), line(n)))
        .collect(),
    );
    let e = prepare_with_env(&raw, &prepare_cx("file"), &no_env).unwrap_err();
    let text = e.to_string();
    for needle in [
        "a `region` must be specified",
        "no Alibaba Cloud credentials",
        "`oss_bucket_name` must be set",
        "unknown configuration key `oss_bucket_nam`",
        "did you mean `oss_bucket_name`?",
        "`format` must be `raw` or `vhd` or `qcow2`, found `iso`",
        "`image_architecture` must be `x86_64` or `i386` or `arm64`, found `amd64`",
        "`image_os_type` must be `linux` or `windows`, found `Linux2`",
        "did you mean `linux`?",
        "`image_system_size` must be a whole number of GiB from 1 to 2048, found `forty`",
        "`image_name` cannot contain spaces",
        "`image_description` must be at most 256 characters",
        "`tags` has a tag with an empty key",
        "`ftp://oss` is not a host name or an http(s) URL",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    assert!(
        e.0.iter()
            .any(|x| x.path.as_deref() == Some("oss_key_name")),
        "{text}"
    );
    // Each error is located where its key is.
    let at = |key: &str| {
        e.0.iter()
            .find(|x| x.path.as_deref() == Some(key))
            .and_then(|x| x.location.clone())
            .map(|l| l.line)
    };
    assert_eq!(at("oss_key_name"), Some(3));
    assert_eq!(at("format"), Some(4));
    assert_eq!(at("image_architecture"), Some(5));
    assert_eq!(at("oss_bucket_nam"), Some(12));
}

#[test]
fn a_bad_bucket_name_is_an_error() {
    for bad in ["Kiln_Images", "ab", "-kiln"] {
        let e = prep(with(json!({ "oss_bucket_name": bad })))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(&format!("found `{bad}`")), "{e}");
    }
}

#[test]
fn the_builders_keys_are_accepted_and_ignored_with_a_warning() {
    let p = prep(with(json!({
        "instance_type": "ecs.n1.tiny",
        "ssh_username": "root",
        "image_copy_regions": ["cn-shanghai"]
    })))
    .unwrap();
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    let w = &p.warnings[0];
    for key in ["`instance_type`", "`ssh_username`", "`image_copy_regions`"] {
        assert!(w.contains(key), "{w}");
    }
    assert!(w.contains("ignored by alicloud-import"), "{w}");
}

#[test]
fn a_missing_image_name_is_a_warning_as_packer_accepts_it() {
    let mut v = base();
    v.as_object_mut().unwrap().remove("image_name");
    let p = prep(v).unwrap();
    assert!(p.config.image_name.is_none());
    assert!(
        p.warnings[0].contains("`image_name` is not set"),
        "{:?}",
        p.warnings
    );
}

#[test]
fn formats_come_from_file_names() {
    assert_eq!(Format::of_file("out/disk.raw"), Some(Format::Raw));
    assert_eq!(Format::of_file("disk.VHD"), Some(Format::Vhd));
    assert_eq!(Format::of_file("disk.qcow2"), Some(Format::Qcow2));
    assert_eq!(Format::of_file("disk.img"), None);
    assert_eq!(
        [Format::Raw, Format::Vhd, Format::Qcow2].map(Format::api),
        ["RAW", "VHD", "QCOW2"]
    );
}
