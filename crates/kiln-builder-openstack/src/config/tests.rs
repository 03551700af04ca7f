//! The config's rules, as Packer's `Prepare` has them, every error at
//! once, the `OS_*` environment variables and `clouds.yaml`.

use kiln_cloud::config::env_of;
use kiln_sdk::config::RawConfig;

use super::*;

fn prepare(v: serde_json::Value, env: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    let cx = kiln_test::prepare_cx("openstack");
    prepare_with_env(&RawConfig::from_value(v), &cx, &env_of(env))
}

fn base() -> serde_json::Value {
    serde_json::json!({
        "identity_endpoint": "http://127.0.0.1:5000/v3", "username": "kiln",
        "password": "pw", "tenant_name": "kiln", "domain_name": "Default",
        "flavor": "m1.tiny", "source_image_name": "tiny", "image_name": "img",
        "ssh_username": "root"
    })
}

fn messages(e: ConfigErrors) -> String {
    e.0.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_minimal_template_prepares_with_packers_defaults() {
    let c = prepare(base(), &[]).unwrap();
    assert_eq!(
        c.access.scope,
        Scope::ProjectName {
            name: "kiln".into(),
            domain: Some(Domain::Name("Default".into()))
        }
    );
    assert!(matches!(
        &c.access.credential,
        Credential::Password { user: User::Name { name, domain: Domain::Name(d) }, .. }
            if name == "kiln" && d == "Default"
    ));
    assert_eq!(c.access.interface, Interface::Public);
    assert_eq!(
        c.image.metadata.get("image_type").map(String::as_str),
        Some("image")
    );
    assert_eq!(c.run.floating_ip, FloatingIp::None);
    assert_eq!(c.instance_name(), "img");
    assert_eq!(
        c.run.source_image,
        SourceImage::Filter(ImageFilter {
            query: vec![("name".into(), "tiny".into())],
            ..ImageFilter::default()
        })
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let e = prepare(
        serde_json::json!({
            "source_image": "a", "source_image_name": "b", "endpoint_type": "private",
            "image_visibility": "everyone", "ssh_ip_version": "5", "image_min_disk": -1,
            "image_disk_format": "qcow2", "ssh_username": "root", "flavr": "x",
            "network_discovery_cidrs": ["10.0.0.0/33"]
        }),
        &[],
    )
    .unwrap_err();
    let text = messages(e);
    for want in [
        "only one of the options `source_image`, `source_image_name`",
        "invalid endpoint type `private`",
        "unknown visibility value `everyone`",
        "SSH IP version must be either 4 or 6",
        "an image min disk size must be greater than or equal to 0",
        "`use_blockstorage_volume` must be true if `image_disk_format` is specified",
        "a `flavor` must be specified",
        "an `image_name` must be specified",
        "no identity endpoint",
        "no credentials",
        "unknown configuration key `flavr`",
        "`10.0.0.0/33` is not a CIDR block",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn the_os_variables_fill_what_the_template_leaves_out() {
    let mut t = base();
    for k in [
        "identity_endpoint",
        "username",
        "password",
        "tenant_name",
        "domain_name",
    ] {
        t.as_object_mut().unwrap().remove(k);
    }
    let c = prepare(
        t,
        &[
            ("OS_AUTH_URL", "http://k:5000"),
            ("OS_USERNAME", "u"),
            ("OS_PASSWORD", "p"),
            ("OS_PROJECT_NAME", "proj"),
            ("OS_USER_DOMAIN_NAME", "UD"),
            ("OS_PROJECT_DOMAIN_ID", "pd"),
            ("OS_REGION_NAME", "RegionTwo"),
        ],
    )
    .unwrap();
    assert_eq!(c.access.auth_url, "http://k:5000");
    assert_eq!(c.access.region.as_deref(), Some("RegionTwo"));
    assert_eq!(
        c.access.scope,
        Scope::ProjectName {
            name: "proj".into(),
            domain: Some(Domain::Id("pd".into()))
        }
    );
    assert!(matches!(&c.access.credential,
        Credential::Password { user: User::Name { domain: Domain::Name(d), .. }, .. } if d == "UD"));
}

#[test]
fn a_user_by_name_needs_a_domain_and_a_token_or_app_credential_works_alone() {
    let mut t = base();
    t.as_object_mut().unwrap().remove("domain_name");
    let text = messages(prepare(t, &[]).unwrap_err());
    assert!(
        text.contains("no domain is: Keystone v3 needs the user's domain"),
        "{text}"
    );

    let mut t = base();
    for k in ["username", "password"] {
        t.as_object_mut().unwrap().remove(k);
    }
    t["token"] = serde_json::json!("tok");
    assert!(matches!(
        prepare(t, &[]).unwrap().access.credential,
        Credential::Token(_)
    ));

    let c = prepare(
        serde_json::json!({
            "identity_endpoint": "http://k:5000/v3", "application_credential_id": "ac",
            "application_credential_secret": "s", "tenant_name": "ignored",
            "flavor": "f", "source_image": "i", "image_name": "n", "ssh_username": "root"
        }),
        &[],
    )
    .unwrap();
    assert_eq!(c.access.scope, Scope::None);
}

#[test]
fn a_cloud_of_clouds_yaml_is_used_and_the_template_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clouds.yaml");
    std::fs::write(
        &file,
        "clouds:\n  lab:\n    auth:\n      auth_url: http://lab:5000/v3\n      username: labuser\n      password: labpw\n      project_id: p123\n      user_domain_name: Default\n    region_name: RegionOne\n    interface: internal\n",
    )
    .unwrap();
    let path = file.display().to_string();
    let mut t = base();
    for k in [
        "identity_endpoint",
        "username",
        "password",
        "tenant_name",
        "domain_name",
    ] {
        t.as_object_mut().unwrap().remove(k);
    }
    t["cloud"] = serde_json::json!("lab");
    t["region"] = serde_json::json!("RegionTwo");
    let c = prepare(t.clone(), &[("OS_CLIENT_CONFIG_FILE", &path)]).unwrap();
    assert_eq!(c.access.auth_url, "http://lab:5000/v3");
    assert_eq!(c.access.region.as_deref(), Some("RegionTwo"));
    assert_eq!(c.access.scope, Scope::ProjectId("p123".into()));
    t["cloud"] = serde_json::json!("nope");
    let text = messages(prepare(t, &[("OS_CLIENT_CONFIG_FILE", &path)]).unwrap_err());
    assert!(
        text.contains("cloud `nope` is not in") && text.contains("`lab`"),
        "{text}"
    );
}

#[test]
fn the_filter_becomes_glances_query_and_floating_ip_pool_a_network() {
    let mut t = base();
    t.as_object_mut().unwrap().remove("source_image_name");
    t["source_image_filter"] = serde_json::json!({
        "filters": {"name": "ubuntu", "tags": ["a", "b"], "visibility": "public",
                    "properties": {"os_distro": "ubuntu"}},
        "most_recent": true
    });
    t["floating_ip_pool"] = serde_json::json!("public");
    let c = prepare(t, &[]).unwrap();
    let SourceImage::Filter(f) = &c.run.source_image else {
        panic!("{:?}", c.run.source_image)
    };
    assert!(f.most_recent);
    assert_eq!(
        f.properties.get("os_distro").map(String::as_str),
        Some("ubuntu")
    );
    assert_eq!(
        f.query,
        [
            ("name", "ubuntu"),
            ("tag", "a"),
            ("tag", "b"),
            ("visibility", "public"),
            ("status", "active"),
            ("member_status", "accepted"),
            ("sort", "created_at:desc")
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(c.run.floating_ip, FloatingIp::Create("public".into()));
}

#[test]
fn cidrs_contain_as_packer_counts_it() {
    assert!(contains_net("10.0.0.0/8", "10.99.0.0/24"));
    assert!(!contains_net("10.99.0.0/24", "10.0.0.0/8"));
    assert!(!contains_net("172.16.0.0/12", "10.99.0.0/24"));
    assert!(contains_net("0.0.0.0/0", "10.99.0.0/24"));
    assert!(contains_net("fd00::/8", "fd00:1::/64"));
    assert!(!contains_net("fd00::/8", "10.0.0.0/8"));
}
