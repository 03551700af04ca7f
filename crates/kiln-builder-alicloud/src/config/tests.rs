//! The alicloud-ecs configuration's unit tests: typed values, the
//! environment, `-force`, every error at once, secrets registered and
//! never printed. The Packer comparisons are in `tests_packer`.

use super::tests_packer::merged;
use super::*;
use kiln_test::prepare_cx;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

fn no_env(_: &str) -> Option<String> {
    None
}

fn prep(keys: serde_json::Value) -> Result<Config, String> {
    prepare_with_env(
        &RawConfig::from_value(merged(&keys)),
        &prepare_cx("alicloud-ecs"),
        &no_env,
    )
    .map_err(|e| e.to_string())
}

#[test]
fn a_full_template_is_typed() {
    let c = prep(json!({
        "internet_charge_type": "PayByTraffic",
        "internet_max_bandwidth_out": "10",
        "security_enhancement_strategy": "Active",
        "force_stop_instance": true,
        "wait_snapshot_ready_timeout": 600,
        "zone_id": "cn-hangzhou-i",
        "io_optimized": true,
        "vpc_id": "vpc-1",
        "vswitch_name": "build",
        "security_group_name": "kiln",
        "system_disk_mapping": {"disk_category": "cloud_essd", "disk_size": 40},
        "image_disk_mappings": [{"disk_category": "cloud_efficiency", "disk_size": 100, "disk_device": "/dev/xvdb", "disk_delete_with_instance": true}],
        "image_copy_regions": ["cn-beijing", "cn-shanghai", "cn-beijing"],
        "image_copy_names": ["in-beijing"],
        "image_share_account": ["123", "456"],
        "tags": {"os": "ubuntu"},
        "run_tags": {"team": "kiln"}
    }))
    .unwrap();
    assert_eq!(
        c.source_image,
        SourceImage::Id("ubuntu_20_04_x64_20G_alibase_20201120.vhd".into())
    );
    assert_eq!(
        c.internet_charge_type,
        Some(InternetChargeType::PayByTraffic)
    );
    assert_eq!(c.internet_max_bandwidth_out, Some(10));
    assert_eq!(
        c.security_enhancement_strategy,
        Some(SecurityEnhancement::Active)
    );
    assert_eq!(c.stop_instance, StopInstance::Api { force: true });
    assert_eq!(c.wait_snapshot_ready_timeout, Duration::from_secs(600));
    assert_eq!(c.io_optimized, Some(true));
    assert_eq!(c.network.vpc, Vpc::Existing("vpc-1".into()));
    assert_eq!(
        c.network.vswitch,
        VSwitch::Create {
            name: Some("build".into()),
            cidr_block: DEFAULT_VSWITCH_CIDR.into()
        }
    );
    assert!(c.network.vpc_specified());
    assert_eq!(
        c.network.security_group,
        SecurityGroup::Create {
            name: Some("kiln".into())
        }
    );
    let system = c.system_disk.unwrap();
    assert_eq!(system.category, Some(DiskCategory::CloudEssd));
    assert_eq!(system.size_gib, Some(40));
    assert_eq!(c.data_disks.len(), 1);
    assert_eq!(
        c.data_disks[0].category.as_ref().map(DiskCategory::as_str),
        Some("cloud_efficiency")
    );
    assert!(c.data_disks[0].delete_with_instance);
    assert_eq!(
        c.image_copies,
        [
            ImageCopy {
                region: "cn-beijing".into(),
                name: Some("in-beijing".into())
            },
            ImageCopy {
                region: "cn-shanghai".into(),
                name: None
            }
        ]
    );
    assert_eq!(c.image_share_accounts, ["123", "456"]);
    assert_eq!(c.tags, BTreeMap::from([("os".into(), "ubuntu".into())]));
    assert_eq!(c.run_tags["team"], "kiln");
    assert_eq!(c.force_delete, ForceDelete::default());
    assert_eq!(c.communicator.kind(), "ssh");
}

#[test]
fn defaults_are_packers() {
    let c = prep(json!({"wait_snapshot_ready_timeout": 0})).unwrap();
    assert_eq!(c.wait_snapshot_ready_timeout, DEFAULT_SNAPSHOT_TIMEOUT);
    assert_eq!(DEFAULT_SNAPSHOT_TIMEOUT, Duration::from_secs(3600));
    assert_eq!(c.stop_instance, StopInstance::Api { force: false });
    assert_eq!(c.internet_charge_type, None);
    assert!(!c.network.vpc_specified());
    assert_eq!(
        c.network.vpc,
        Vpc::Create {
            name: None,
            cidr_block: None
        }
    );
    let c = prep(
        json!({"disable_stop_instance": true, "force_stop_instance": true, "vswitch_id": "vsw-1"}),
    )
    .unwrap();
    assert_eq!(c.stop_instance, StopInstance::ByProvisioner);
    assert!(c.network.vpc_specified());
}

#[test]
fn credentials_and_region_come_from_the_environment_too() {
    let env = |name: &str| {
        [
            ("ALICLOUD_ACCESS_KEY", "LTAI-env"),
            ("ALICLOUD_SECRET_KEY", "env-secret-value"),
            ("ALICLOUD_REGION", "eu-central-1"),
            ("ALICLOUD_SECURITY_TOKEN", "env-token-value"),
            ("ALICLOUD_SHARED_CREDENTIALS_FILE", "/etc/aliyun.json"),
        ]
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
    };
    let cx = prepare_cx("alicloud-ecs");
    let raw = RawConfig::from_value(merged(
        &json!({"access_key": null, "secret_key": null, "region": null}),
    ));
    let c = prepare_with_env(&raw, &cx, &env).unwrap();
    assert_eq!(c.access.region, "eu-central-1");
    let Credentials::Keys {
        access_key,
        secret_key,
        security_token,
    } = &c.access.credentials
    else {
        panic!("{:?}", c.access.credentials)
    };
    assert_eq!(access_key, "LTAI-env");
    assert_eq!(secret_key.expose(), "env-secret-value");
    assert_eq!(security_token.as_ref().unwrap().expose(), "env-token-value");
    assert_eq!(
        c.access.shared_credentials_file.as_deref(),
        Some(std::path::Path::new("/etc/aliyun.json"))
    );
    assert_eq!(cx.redactor.redact("a env-token-value b"), "a <sensitive> b");

    // The template wins over the environment.
    let c = prepare_with_env(&RawConfig::from_value(merged(&json!({}))), &cx, &env).unwrap();
    assert_eq!(c.access.region, "cn-hangzhou");

    // A profile (or a RAM role) stands in for keys.
    let profile = |name: &str| (name == "ALICLOUD_PROFILE").then(|| "dev".to_string());
    let raw = RawConfig::from_value(merged(&json!({"access_key": null, "secret_key": null})));
    let c = prepare_with_env(&raw, &cx, &profile).unwrap();
    assert_eq!(c.access.credentials, Credentials::Profile("dev".into()));
    let raw = RawConfig::from_value(merged(
        &json!({"access_key": null, "secret_key": null, "ram_role_name": "builder"}),
    ));
    let c = prepare_with_env(&raw, &cx, &no_env).unwrap();
    assert_eq!(
        c.access.credentials,
        Credentials::EcsRamRole("builder".into())
    );
    assert_eq!(c.access.ram_role_name.as_deref(), Some("builder"));
}

#[test]
fn custom_endpoints_become_urls() {
    let c = prep(json!({"custom_endpoint_ecs": "ecs.example.com:8443"})).unwrap();
    assert_eq!(
        c.access.custom_endpoint_ecs.as_deref(),
        Some("https://ecs.example.com:8443")
    );
    let c = prep(json!({"custom_endpoint_ecs": "http://127.0.0.1:9000/"})).unwrap();
    assert_eq!(
        c.access.custom_endpoint_ecs.as_deref(),
        Some("http://127.0.0.1:9000")
    );
    let e = prep(json!({"custom_endpoint_ecs": "ftp://x"})).unwrap_err();
    assert!(
        e.contains("`ftp://x` is not a host name or an http(s) URL"),
        "{e}"
    );
}

#[test]
fn force_deletes_existing_images_and_their_snapshots() {
    let mut cx = prepare_cx("alicloud-ecs");
    cx.force = true;
    let c = prepare_with_env(&RawConfig::from_value(merged(&json!({}))), &cx, &no_env).unwrap();
    assert_eq!(
        c.force_delete,
        ForceDelete {
            images: true,
            snapshots: true,
            instances: false
        }
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let e = prep(json!({
        "secret_key": null,
        "image_name": "a b",
        "instance_type": "",
        "security_enhancement_strategy": "active",
        "cidr_block": "172.16.0.0/33",
        "image_disk_mappings": [{"disk_size": -1}],
        "ssh_timeout": "soon",
        "instance_typ": "x"
    }))
    .unwrap_err();
    for want in [
        "`access_key` is set but `secret_key` is not",
        "`image_name` cannot contain spaces",
        "an `instance_type` must be specified",
        "`security_enhancement_strategy` must be `Active` or `Deactive`, found `active`",
        "did you mean `Active`?",
        "`cidr_block` must be an IPv4 CIDR block",
        "`image_disk_mappings[0].disk_size`",
        "`ssh_timeout`",
        "unknown configuration key `instance_typ`",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
}

#[test]
fn secrets_are_registered_and_never_debug_printed() {
    let cx = prepare_cx("alicloud-ecs");
    let raw = RawConfig::from_value(merged(&json!({
        "secret_key": "very-secret-key-value",
        "security_token": "sts-token-value",
        "image_name": "kiln-{{timestamp}}"
    })));
    let c = prepare_with_env(&raw, &cx, &no_env).unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("very-secret-key-value"), "{dbg}");
    assert!(!dbg.contains("sts-token-value"), "{dbg}");
    assert_eq!(
        cx.redactor.redact("x very-secret-key-value y"),
        "x <sensitive> y"
    );
    assert!(c.image_name.starts_with("kiln-"), "{}", c.image_name);
    assert!(c.image_name[5..].parse::<u64>().is_ok(), "{}", c.image_name);
}

#[test]
fn image_names_follow_packers_rule() {
    assert_eq!(check_image_name("image_name", "ab"), None);
    assert_eq!(check_image_name("image_name", &"中".repeat(42)), None);
    assert!(check_image_name("image_name", &"中".repeat(43)).is_some());
    assert!(check_image_name("image_name", "https://x").is_some());
    assert!(check_image_name("image_name", "a\tb").is_some());
    // Go's `\s` is ASCII: a non-breaking space passes, as in Packer.
    assert_eq!(check_image_name("image_name", "a\u{a0}b"), None);
}

#[test]
fn a_data_disk_list_and_hcl2_blocks_decode() {
    let c = prep(json!({
        "system_disk_mapping": [{"disk_size": "50", "disk_name": "sys"}],
        "image_disk_mappings": [{"disk_snapshot_id": "s-1", "disk_encrypted": "false"}, {"disk_size": 20}]
    }))
    .unwrap();
    assert_eq!(c.system_disk.as_ref().unwrap().size_gib, Some(50));
    assert_eq!(c.data_disks.len(), 2);
    assert_eq!(c.data_disks[0].snapshot_id.as_deref(), Some("s-1"));
    assert_eq!(c.data_disks[0].encrypted, Some(false));
    let e = prep(json!({"system_disk_mapping": [{}, {}]})).unwrap_err();
    assert!(e.contains("only one block is allowed here"), "{e}");
}
