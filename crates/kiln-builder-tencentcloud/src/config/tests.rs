//! The config's rules: Packer 1.6.6's keys, defaults and errors (each
//! message checked against `packer validate`'s), all errors at once.

use kiln_cloud::config::{env_of, overlay};
use kiln_sdk::config::RawConfig;

use super::*;

fn raw(extra: serde_json::Value) -> RawConfig {
    let base = serde_json::json!({
        "secret_id": "AKID", "secret_key": "sk", "region": "ap-guangzhou",
        "zone": "ap-guangzhou-3", "instance_type": "S5.MEDIUM2",
        "source_image_id": "img-pi0ii46r", "image_name": "kiln", "ssh_username": "root"
    });
    overlay(base, extra)
}

fn prepare_env(extra: serde_json::Value, env: &[(&str, &str)]) -> Result<Config, Vec<String>> {
    let cx = kiln_test::prepare_cx("tencentcloud-cvm");
    prepare_with_env(&raw(extra), &cx, &env_of(env))
        .map_err(|e| e.0.iter().map(|e| e.to_string()).collect())
}

fn prepare(extra: serde_json::Value) -> Result<Config, Vec<String>> {
    prepare_env(extra, &[])
}

#[test]
fn packers_defaults() {
    let c = prepare(serde_json::json!({})).unwrap();
    assert_eq!(c.run.disk_type, "CLOUD_BASIC");
    assert_eq!(c.run.disk_size, 50);
    assert_eq!(c.run.internet_max_bandwidth_out, 0);
    assert_eq!(
        c.network.vpc,
        Vpc::Create {
            name: None,
            cidr_block: "10.0.0.0/16".into()
        }
    );
    assert_eq!(
        c.network.subnet,
        Subnet::Create {
            name: None,
            cidr_block: "10.0.8.0/24".into()
        }
    );
    assert_eq!(
        c.network.security_group,
        SecurityGroup::Create { name: None }
    );
    let c = prepare(serde_json::json!({"associate_public_ip_address": true})).unwrap();
    assert_eq!(c.run.internet_max_bandwidth_out, 1);
    assert_eq!(c.run.internet_charge_type, "TRAFFIC_POSTPAID_BY_HOUR");
}

#[test]
fn the_misspelt_subnet_key_and_the_right_one_are_both_taken() {
    for key in ["subnect_cidr_block", "subnet_cidr_block"] {
        let c = prepare(serde_json::json!({"cidr_block": "172.16.0.0/16", key: "172.16.1.0/24"}))
            .unwrap();
        assert_eq!(
            c.network.subnet,
            Subnet::Create {
                name: None,
                cidr_block: "172.16.1.0/24".into()
            }
        );
    }
    let e = prepare(serde_json::json!({"cidr_block": "172.16.0.0/16"})).unwrap_err();
    assert!(
        e[0].contains(
            "if vpc cidr_block is specified, then subnet_cidr_block must also be specified."
        ),
        "{e:?}"
    );
    let e = prepare(serde_json::json!({
        "subnet_cidr_block": "10.0.1.0/24", "subnect_cidr_block": "10.0.2.0/24"
    }))
    .unwrap_err();
    assert!(e[0].contains("differ"), "{e:?}");
}

#[test]
fn credentials_and_region_come_from_the_environment() {
    let c = prepare_env(
        serde_json::json!({"secret_id": null, "secret_key": null, "region": null}),
        &[
            ("TENCENTCLOUD_SECRET_ID", "AKIDenv"),
            ("TENCENTCLOUD_SECRET_KEY", "envsecret"),
            ("TENCENTCLOUD_SECURITY_TOKEN", "envtoken"),
            ("TENCENTCLOUD_REGION", "ap-shanghai"),
            ("KILN_TENCENTCLOUD_ENDPOINT", "http://127.0.0.1:9/"),
        ],
    )
    .unwrap();
    assert_eq!(c.access.secret_id, "AKIDenv");
    assert_eq!(c.access.secret_key.expose(), "envsecret");
    assert_eq!(
        c.access.security_token.as_ref().unwrap().expose(),
        "envtoken"
    );
    assert_eq!(c.access.region, "ap-shanghai");
    assert_eq!(c.access.endpoint.as_deref(), Some("http://127.0.0.1:9"));
    assert!(!format!("{:?}", c.access).contains("envsecret"));
}

#[test]
fn every_error_is_reported_at_once() {
    let e = prepare(serde_json::json!({
        "secret_id": null, "secret_key": null, "region": "xx-nowhere", "disk_type": "BAD",
        "source_image_id": "bad", "user_data": "a", "user_data_file": "/nonexistent",
        "instance_type": null, "image_name": "x".repeat(61), "image_copy_regions": ["nowhere"],
        "bogus_key": 1, "subnet_id": "subnet-12345678"
    }))
    .unwrap_err();
    let all = e.join("\n");
    for want in [
        "parameter secret_id and secret_key must be set",
        "unknown region: `xx-nowhere`",
        "image_name length should not exceed 60 characters",
        "unknown region: `nowhere`",
        "source_image_id wrong format",
        "instance_type must be specified",
        "only one of user_data or user_data_file can be specified",
        "specified disk_type(`BAD`) is invalid",
        "bogus_key",
        "can't set subnet_id without set vpc_id",
    ] {
        assert!(all.contains(want), "missing `{want}` in:\n{all}");
    }
    let ok = prepare(serde_json::json!({
        "region": "xx-nowhere", "skip_region_validation": true, "image_copy_regions": ["yy-else"]
    }))
    .unwrap();
    assert_eq!(ok.image.image_copy_regions, ["yy-else"]);
}

#[test]
fn every_packer_key_is_accepted() {
    let c = prepare(serde_json::json!({
        "security_token": "tok", "vpc_id": "vpc-12345678", "vpc_name": "v", "vpc_ip": "10.0.0.5",
        "subnet_id": "subnet-12345678", "subnet_name": "s", "security_group_id": "sg-12345678",
        "security_group_name": "g", "disk_type": "CLOUD_PREMIUM", "disk_size": 60,
        "data_disks": [{"disk_type": "CLOUD_SSD", "disk_size": 100, "disk_snapshot_id": "snap-1"}],
        "internet_charge_type": "BANDWIDTH_POSTPAID_BY_HOUR", "internet_max_bandwidth_out": 5,
        "associate_public_ip_address": true, "run_tags": {"team": "web"}, "user_data": "echo",
        "host_name": "h", "instance_name": "i", "image_description": "d",
        "image_copy_regions": ["ap-shanghai", "ap-guangzhou"], "image_share_accounts": ["100022223333"],
        "force_poweroff": true, "sysprep": false, "reboot": true, "image_force_delete": true,
        "ssh_private_ip": true, "source_image_name": "Ubuntu"
    }))
    .unwrap();
    assert_eq!(c.network.vpc, Vpc::Existing("vpc-12345678".into()));
    assert_eq!(c.network.subnet, Subnet::Existing("subnet-12345678".into()));
    assert_eq!(
        c.network.security_group,
        SecurityGroup::Existing("sg-12345678".into())
    );
    // The build region is no copy target.
    assert_eq!(c.image.image_copy_regions, ["ap-shanghai"]);
    assert_eq!(c.run.data_disks[0].snapshot_id.as_deref(), Some("snap-1"));
    assert_eq!(c.run.source_image, SourceImage::Id("img-pi0ii46r".into()));
    assert!(c.image.force_poweroff && c.image.image_force_delete && c.run.ssh_private_ip);
}

#[test]
fn a_source_image_name_that_is_no_regular_expression_fails_before_the_build() {
    // Packer 1.6.6 finds out in stepCheckSourceImage ("regex compilation
    // error"), after the key pair is made.
    let e =
        prepare(serde_json::json!({"source_image_id": null, "source_image_name": "Ubuntu (20"}))
            .unwrap_err();
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("source_image_name `Ubuntu (20` is not a valid regular expression: error: unclosed group"),
        "{e:?}"
    );
    assert!(e[0].contains("hint: "), "{e:?}");
    let c = prepare(
        serde_json::json!({"source_image_id": null, "source_image_name": "^Ubuntu Server 20\\.04"}),
    )
    .unwrap();
    assert_eq!(
        c.run.source_image,
        SourceImage::Name("^Ubuntu Server 20\\.04".into())
    );
}
