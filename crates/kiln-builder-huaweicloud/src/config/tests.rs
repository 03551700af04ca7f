//! The config's rules, as the plugin's `Prepare` has them, every error at
//! once, and the `HW_*` environment variables.

use kiln_cloud::config::env_of;
use kiln_sdk::config::RawConfig;

use super::*;

fn prepare(v: serde_json::Value, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let cx = kiln_test::prepare_cx("huaweicloud-ecs");
    prepare_with_env(&RawConfig::from_value(v), &cx, &env_of(env))
}

fn base() -> serde_json::Value {
    serde_json::json!({
        "access_key": "AK", "secret_key": "SK", "region": "cn-north-4",
        "project_id": "0b0ff3a5fa804c0e8f1d7e5b2a9c4d61", "flavor": "s6.small.1",
        "source_image_name": "Ubuntu 22.04 server 64bit", "image_name": "img", "ssh_username": "root"
    })
}

fn messages(e: ConfigErrors) -> String {
    e.0.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_minimal_template_prepares_with_the_plugins_defaults() {
    let c = prepare(base(), &[]).unwrap();
    assert_eq!(c.run.volume_type, "SSD");
    assert_eq!(c.run.eip, Eip::None);
    assert_eq!(c.image.timeout, image::DEFAULT_IMAGE_TIMEOUT);
    assert_eq!(
        c.access.endpoints.get(Service::Ims),
        "https://ims.cn-north-4.myhuaweicloud.com"
    );
    assert_eq!(
        c.run.source_image,
        SourceImage::Filter {
            query: vec![("name".into(), "Ubuntu 22.04 server 64bit".into())],
            most_recent: false
        }
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let e = prepare(
        serde_json::json!({
            "source_image": "a", "source_image_name": "b", "subnets": ["s"],
            "volume_type": "FAST", "image_members": ["nope"], "ssh_username": "root",
            "endpoints": {"obs": "https://x"}, "flavr": "x"
        }),
        &[],
    )
    .unwrap_err();
    let text = messages(e);
    for want in [
        "`access_key` must be set",
        "`secret_key` must be set",
        "`region` must be set",
        "a `flavor` must be specified",
        "only a `source_image` or a `source_image_name`",
        "`subnets` must be empty if the `vpc_id` was not specified",
        "unknown `volume_type` `FAST`",
        "`nope` is not a project ID",
        "`image_name` must be specified",
        "unknown service `obs`",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
}

#[test]
fn unknown_keys_are_rejected_with_a_suggestion() {
    let mut v = base();
    v["flavr"] = "x".into();
    let text = messages(prepare(v, &[]).unwrap_err());
    assert!(text.contains("flavr"), "{text}");
}

#[test]
fn the_hw_environment_fills_in_what_the_template_leaves_out() {
    let mut v = base();
    for k in ["access_key", "secret_key", "region", "project_id"] {
        v.as_object_mut().unwrap().remove(k);
    }
    let c = prepare(
        v,
        &[
            ("HW_ACCESS_KEY", "ENVAK"),
            ("HW_SECRET_KEY", "ENVSK"),
            ("HW_REGION_NAME", "cn-east-3"),
            ("HW_PROJECT_ID", "p"),
            ("HW_ENTERPRISE_PROJECT_ID", "ep"),
        ],
    )
    .unwrap();
    assert_eq!(c.access.access_key, "ENVAK");
    assert_eq!(c.access.secret_key.unwrap().expose(), "ENVSK");
    assert_eq!(c.access.region, "cn-east-3");
    assert_eq!(c.access.project_name, "cn-east-3");
    assert_eq!(c.run.enterprise_project_id.as_deref(), Some("ep"));
}

#[test]
fn eips_filters_and_networks_follow_the_plugin() {
    let mut v = base();
    v.as_object_mut().unwrap().remove("source_image_name");
    v["source_image_filter"] = serde_json::json!({"filters": {"name": "Ubuntu", "visibility": "public"}, "most_recent": true});
    v["eip_bandwidth_size"] = 5.into();
    v["vpc_id"] = "vpc-1".into();
    v["subnets"] = serde_json::json!(["sub-1"]);
    v["security_groups"] = serde_json::json!(["default", "sg-1"]);
    let c = prepare(v, &[]).unwrap();
    assert_eq!(
        c.run.eip,
        Eip::Create {
            kind: "5_bgp".into(),
            bandwidth: 5
        }
    );
    assert_eq!(
        c.run.source_image,
        SourceImage::Filter {
            query: vec![
                ("name".into(), "Ubuntu".into()),
                ("__imagetype".into(), "gold".into())
            ],
            most_recent: true
        }
    );
    assert_eq!(c.run.security_groups, vec!["sg-1".to_string()]);
    let mut v = base();
    v["vpc_id"] = "vpc-1".into();
    let text = messages(prepare(v, &[]).unwrap_err());
    assert!(
        text.contains("`subnets` must be specified with `vpc_id`"),
        "{text}"
    );
}

#[test]
fn without_project_id_the_project_is_looked_up_by_name_through_auth_url() {
    let mut v = base();
    v.as_object_mut().unwrap().remove("project_id");
    let c = prepare(v.clone(), &[]).unwrap();
    assert_eq!(c.access.project_id, "");
    assert_eq!(c.access.project_name, "cn-north-4");
    assert_eq!(
        c.access.endpoints.get(Service::Iam),
        "https://iam.myhuaweicloud.com:443"
    );
    v["project_name"] = "cn-north-4_dev".into();
    v["auth_url"] = "https://iam.example.internal/v3/".into();
    let c = prepare(v.clone(), &[]).unwrap();
    assert_eq!(c.access.project_name, "cn-north-4_dev");
    assert_eq!(
        c.access.endpoints.get(Service::Iam),
        "https://iam.example.internal"
    );
    v["endpoints"] = serde_json::json!({"iam": "http://127.0.0.1:9"});
    let c = prepare(v, &[("HW_PROJECT_NAME", "ignored")]).unwrap();
    assert_eq!(c.access.endpoints.get(Service::Iam), "http://127.0.0.1:9");
    assert_eq!(c.access.project_name, "cn-north-4_dev");
}

#[test]
fn data_disks_follow_the_plugins_rules() {
    let mut v = base();
    v["data_disks"] = serde_json::json!([
        {"volume_size": 100, "volume_type": "GPSSD"},
        {"data_image_id": "img-1"}
    ]);
    let c = prepare(v.clone(), &[]).unwrap();
    assert_eq!(
        c.run.data_disks,
        vec![
            DataDisk {
                volume_type: "GPSSD".into(),
                source: DataDiskSource::Size(100)
            },
            DataDisk {
                volume_type: "SSD".into(),
                source: DataDiskSource::Image("img-1".into())
            },
        ]
    );
    v["data_disks"] = serde_json::json!([
        {},
        {"volume_size": 10, "data_image_id": "img-1"},
        {"volume_size": 5},
        {"volume_size": 10, "volume_type": "FAST"},
        {"snapshot_id": "snap-1"}
    ]);
    let text = messages(prepare(v, &[]).unwrap_err());
    for want in [
        "`data_disks[0]`: one of `volume_size`, `volume_id`, `snapshot_id` or `data_image_id` must be specified",
        "`data_disks[1]`: only one of `volume_size`, `volume_id`, `snapshot_id` or `data_image_id` can be specified, but `volume_size`, `data_image_id` were specified",
        "`data_disks[2]`: `volume_size` must be from 10 to 32768 GB, not 5",
        "`data_disks[3]`: unknown `volume_type` `FAST`",
        "`data_disks[4]`: `snapshot_id` is not supported by kiln's huaweicloud-ecs builder yet",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
    let mut v = base();
    v["data_disks"] = serde_json::json!([{"volume_size": 10, "size": 10}]);
    assert_rejected(v, "size");
}

/// Fails unless `v` is rejected with an error saying `want`.
fn assert_rejected(v: serde_json::Value, want: &str) {
    let text = messages(prepare(v, &[]).unwrap_err());
    assert!(text.contains(want), "missing `{want}` in:\n{text}");
}

#[test]
fn image_types_are_the_plugins_and_full_ecs_needs_a_vault() {
    let mut v = base();
    assert_eq!(
        prepare(v.clone(), &[]).unwrap().image.kind,
        ImageType::System
    );
    v["image_type"] = "full-ecs".into();
    assert_rejected(
        v.clone(),
        "`vault_id` must be specified when `image_type` is `full-ecs`",
    );
    v["vault_id"] = "vault-1".into();
    let c = prepare(v.clone(), &[]).unwrap();
    assert_eq!(c.image.kind, ImageType::FullEcs);
    assert_eq!(c.run.vault_id.as_deref(), Some("vault-1"));
    v["image_type"] = "system-data".into();
    assert_rejected(
        v.clone(),
        "`image_type` `system-data` is not supported by kiln's huaweicloud-ecs builder yet: `system` or `full-ecs`",
    );
    v["image_type"] = "whole".into();
    assert_rejected(
        v,
        "unknown `image_type` `whole`: expected one of system, data-disk, system-data, full-ecs",
    );
}
