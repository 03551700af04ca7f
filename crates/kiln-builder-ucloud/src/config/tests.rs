//! The configuration's checks, each error reported with the others.

use kiln_cloud::config::overlay;
use kiln_sdk::config::RawConfig;
use serde_json::json;

use super::*;

fn raw(extra: serde_json::Value) -> RawConfig {
    let base = json!({
        "public_key": "pub", "private_key": "priv", "project_id": "org-kiln",
        "region": "cn-bj2", "availability_zone": "cn-bj2-02",
        "source_image_id": "uimage-centos79", "instance_type": "n-basic-2",
        "image_name": "kiln-img", "ssh_username": "root"
    });
    overlay(base, extra)
}

fn prepare(extra: serde_json::Value) -> Result<Config, Vec<String>> {
    prepare_with(extra, &|_| None)
}

fn prepare_with(
    extra: serde_json::Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, Vec<String>> {
    prepare_with_env(&raw(extra), &kiln_test::prepare_cx("ucloud-uhost"), env)
        .map_err(|e| e.0.iter().map(|e| e.to_string()).collect())
}

#[test]
fn the_defaults_are_the_plugins() {
    let c = prepare(json!({})).unwrap();
    assert_eq!(c.run.boot_disk_type, BootDiskType::CloudSsd);
    assert_eq!(c.run.eip_bandwidth, 10);
    assert_eq!(c.run.eip_pay_mode, "Traffic");
    assert_eq!(c.run.min_cpu_platform, "Intel/Auto");
    assert!(c.run.instance_name.starts_with("packer-") && c.run.instance_name.len() == 15);
    assert_eq!(
        c.run.instance_type,
        InstanceType {
            cpu: 2,
            memory: 4096,
            machine_type: "N".into()
        }
    );
    assert_eq!(c.access.base_url, DEFAULT_BASE_URL);
    assert_eq!(c.image.wait_image_ready_timeout, DEFAULT_IMAGE_TIMEOUT);
}

#[test]
fn every_error_is_reported_at_once() {
    let e = prepare(json!({
        "region": null, "project_id": null, "availability_zone": null, "instance_type": "x-big-3",
        "boot_disk_type": "floppy", "vpc_id": "uvnet-1", "eip_charge_mode": "free",
        "image_name": "bad name!", "ssh_password": "short", "min_cpu_platform": "Arm/M1",
        "image_copy_to_mappings": [{"name": "ok"}], "no_such_key": 1
    }))
    .unwrap_err();
    let all = e.join("\n");
    for needle in [
        "`region`",
        "`project_id`",
        "`availability_zone` must be set",
        "instance_type",
        "`boot_disk_type` must be one of",
        "`vpc_id` and `subnet_id`",
        "`eip_charge_mode`",
        "`image_name`",
        "`ssh_password` must have 8-30",
        "`min_cpu_platform`",
        "image_copy_to_mappings[0].project_id",
        "image_copy_to_mappings[0].region",
        "no_such_key",
    ] {
        assert!(all.contains(needle), "no `{needle}` in:\n{all}");
    }
}

#[test]
fn the_environment_fills_in_credentials_region_and_project() {
    let env = |k: &str| match k {
        "UCLOUD_PUBLIC_KEY" => Some("envpub".to_string()),
        "UCLOUD_PRIVATE_KEY" => Some("envpriv".to_string()),
        "UCLOUD_REGION" => Some("cn-sh2".to_string()),
        "UCLOUD_PROJECT_ID" => Some("org-copy".to_string()),
        _ => None,
    };
    let c = prepare_with(
        json!({"public_key": null, "private_key": null, "region": null, "project_id": null}),
        &env,
    )
    .unwrap();
    assert_eq!(c.access.region, "cn-sh2");
    assert_eq!(c.access.project_id, "org-copy");
    match c.access.credentials {
        Credentials::Keys {
            public_key,
            private_key,
        } => {
            assert_eq!(public_key, "envpub");
            assert_eq!(private_key.expose(), "envpriv");
        }
        other => panic!("{other:?}"),
    }
    let e = prepare(json!({"private_key": null}))
        .unwrap_err()
        .join("\n");
    assert!(
        e.contains("`public_key` is set but `private_key` is not"),
        "{e}"
    );
}

#[test]
fn instance_types_parse_as_the_plugin_parses_them() {
    assert_eq!(parse_instance_type("n-highmem-4").unwrap().memory, 32768);
    assert_eq!(
        parse_instance_type("o-standard-8").unwrap().machine_type,
        "O"
    );
    assert_eq!(
        parse_instance_type("n-customized-2-6").unwrap(),
        InstanceType {
            cpu: 2,
            memory: 6144,
            machine_type: "N".into()
        }
    );
    for bad in [
        "n-standard-3",
        "o-standard-6",
        "n-customized-1-24",
        "n-huge-2",
        "z-basic-2",
        "n-basic",
    ] {
        assert!(parse_instance_type(bad).is_err(), "{bad}");
    }
}

#[test]
fn copies_default_their_name_and_passwords_need_two_kinds() {
    let c = prepare(json!({"image_copy_to_mappings": [
        {"project_id": "org-copy", "region": "cn-sh2", "description": "d"}
    ], "wait_image_ready_timeout": 60, "ssh_password": "Kiln-pass1"}))
    .unwrap();
    assert_eq!(c.image.copies[0].name, "kiln-img");
    assert_eq!(c.image.wait_image_ready_timeout.as_secs(), 60);
    assert!(password_problems("abcdefgh").len() == 1);
    assert!(password_problems("abcd1234").is_empty());
}
