//! The amazon-ebs configuration's unit tests: every rule, every error
//! at once, secrets registered and never printed.

use super::*;
use kiln_test::prepare_cx;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

#[test]
fn reports_every_error_at_once() {
    let raw = RawConfig::from_value(json!({
        "region": "us-est-1",
        "ami_name": "x",
        "source_ami_filter": {"filters": {"name": "debian-*"}},
        "ssh_interface": "public_dsn",
        "spot_price": "cheap",
        "force_delete_snapshot": true,
        "mfa_code": "123456",
        "access_key": "AKIA",
        "aws_poling": {},
        "communicator": "none"
    }));
    let e = prepare(&raw, &prepare_cx("amazon-ebs"))
        .unwrap_err()
        .to_string();
    for want in [
        "unknown region `us-est-1`",
        "did you mean `us-east-1`?",
        "`ami_name` must be between 3 and 128 characters",
        "needs `owners`",
        "`instance_type`: an `instance_type` must be specified",
        "did you mean `public_dns`?",
        "`spot_price` must be `auto` or a positive price",
        "`force_delete_snapshot` needs `force_deregister: true`",
        "`mfa_code` is not supported by kiln yet",
        "`access_key` is set but `secret_key` is not",
        "unknown configuration key `aws_poling`",
        "did you mean `aws_polling`?",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
}

#[test]
fn secrets_are_registered_and_never_debug_printed() {
    let c = prepare_cx("amazon-ebs");
    let raw = RawConfig::from_value(json!({
        "region": "us-east-1",
        "ami_name": "kiln {{timestamp}}",
        "source_ami": "ami-123",
        "instance_type": "t3.micro",
        "access_key": "AKIAEXAMPLE",
        "secret_key": "very-secret-key-value",
        "token": "session-token-value",
        "communicator": "none"
    }));
    let cfg = prepare(&raw, &c).unwrap();
    let dbg = format!("{cfg:?}");
    assert!(!dbg.contains("very-secret-key-value"), "{dbg}");
    assert!(!dbg.contains("session-token-value"), "{dbg}");
    assert_eq!(
        c.redactor.redact("x very-secret-key-value y"),
        "x <sensitive> y"
    );
    assert!(cfg.ami_name.starts_with("kiln "), "{}", cfg.ami_name);
    assert!(cfg.ami_name[5..].parse::<u64>().is_ok(), "{}", cfg.ami_name);
}

fn base() -> serde_json::Value {
    json!({
        "region": "us-east-1",
        "ami_name": "kiln test",
        "source_ami": "ami-123",
        "communicator": "none"
    })
}

fn with(extra: serde_json::Value) -> serde_json::Value {
    let mut v = base();
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[test]
fn spot_and_metadata_rules() {
    let raw = RawConfig::from_value(with(json!({
        "spot_instance_types": ["t3.small"],
        "spot_tags": {"a": "b"},
        "block_duration_minutes": 45,
        "metadata_options": {"http_tokens": "always", "http_put_response_hop_limit": 65, "http_endpoint": "off"}
    })));
    let e = prepare(&raw, &prepare_cx("amazon-ebs"))
        .unwrap_err()
        .to_string();
    for want in [
        "`spot_instance_types` needs `spot_price`",
        "`spot_tags` should not be set when not requesting a spot instance",
        "`block_duration_minutes` must be a multiple of 60 up to 360, found `45`",
        "`http_tokens` must be `optional` or `required`, found `always`",
        "`http_endpoint` must be `enabled` or `disabled`, found `off`",
        "`http_put_response_hop_limit` must be between 1 and 64, found `65`",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    assert!(!e.contains("an `instance_type` must be specified"), "{e}");

    let raw = RawConfig::from_value(with(json!({
        "instance_type": "t3.micro", "spot_instance_types": ["t3.small"],
        "spot_price": "auto", "ena_support": true
    })));
    let e = prepare(&raw, &prepare_cx("amazon-ebs"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("either `instance_type` or `spot_instance_types` must be specified, not both"),
        "{e}"
    );
    assert!(
        e.contains("spot instances do not support modification"),
        "{e}"
    );

    let raw = RawConfig::from_value(with(json!({
        "spot_instance_types": ["t3.small", "t3.medium"], "spot_price": "0.05",
        "spot_tags": {"Name": "{{ .SourceAMIName }}"}, "block_duration_minutes": 120,
        "metadata_options": {"http_tokens": "required"}
    })));
    let c = prepare(&raw, &prepare_cx("amazon-ebs")).unwrap();
    assert_eq!(c.market, Market::SpotMax("0.05".into()));
    assert_eq!(c.spot_instance_types, ["t3.small", "t3.medium"]);
    assert_eq!(
        c.spot_tags["Name"], "{{ .SourceAMIName }}",
        "rendered at run time"
    );
    assert_eq!(c.block_duration_minutes, 120);
    assert_eq!(
        c.metadata_options,
        Some(MetadataOptions {
            http_endpoint: "enabled".into(),
            http_tokens: "required".into(),
            http_put_response_hop_limit: 1,
            instance_metadata_tags: "disabled".into(),
        })
    );
    // `spot_price: "0"` is on demand, as in Packer.
    let raw = RawConfig::from_value(with(
        json!({"instance_type": "t3.micro", "spot_price": "0"}),
    ));
    assert_eq!(
        prepare(&raw, &prepare_cx("amazon-ebs")).unwrap().market,
        Market::OnDemand
    );
}

#[test]
fn filters_and_policy_document() {
    let raw = RawConfig::from_value(with(json!({
        "instance_type": "t3.micro",
        "vpc_filter": {"filters": {"tag:Class": "build"}},
        "security_group_filter": {"filters": {}},
        "temporary_iam_instance_profile_policy_document": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": ["*"]}]
        },
        "no_ephemeral": true,
        "insecure_skip_tls_verify": true
    })));
    let c = prepare(&raw, &prepare_cx("amazon-ebs")).unwrap();
    assert_eq!(
        c.vpc_filter,
        Some(BTreeMap::from([(
            "tag:Class".to_string(),
            "build".to_string()
        )]))
    );
    assert_eq!(c.security_group_filter, None, "empty filters are no filter");
    assert!(c.no_ephemeral && c.access.insecure_skip_tls_verify);
    assert_eq!(
        serde_json::to_string(c.temporary_iam_policy.as_ref().unwrap()).unwrap(),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:*"],"Resource":["*"]}]}"#
    );
    let raw = RawConfig::from_value(with(json!({
        "instance_type": "t3.micro",
        "temporary_iam_instance_profile_policy_document": {"Statement": [], "Versoin": "x"}
    })));
    let e = prepare(&raw, &prepare_cx("amazon-ebs"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Versoin"), "{e}");
}

#[test]
fn hcl2_blocks_are_one_element_lists() {
    let raw = RawConfig::from_value(with(json!({
        "instance_type": "t3.micro",
        "source_ami_filter": [{"filters": {"name": "x-*"}, "owners": ["self"], "most_recent": "true"}],
        "vpc_filter": [{"filters": {"tag:Class": "build"}}],
        "metadata_options": [{"http_put_response_hop_limit": "2"}],
        "aws_polling": [{"delay_seconds": 2}],
        "temporary_iam_instance_profile_policy_document": [{
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["logs:*"], "Resource": ["*"]}]
        }]
    })));
    let c = prepare(&raw, &prepare_cx("amazon-ebs")).unwrap();
    assert!(c.source.most_recent);
    assert_eq!(c.source.owners, ["self"]);
    assert!(c.vpc_filter.is_some());
    assert_eq!(c.metadata_options.unwrap().http_put_response_hop_limit, 2);
    assert_eq!(c.polling.delay, Duration::from_secs(2));
    assert_eq!(c.temporary_iam_policy.unwrap().statement.len(), 1);
    let raw = RawConfig::from_value(with(json!({
        "instance_type": "t3.micro",
        "vpc_filter": [{"filters": {}}, {"filters": {}}]
    })));
    let e = prepare(&raw, &prepare_cx("amazon-ebs"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("only one block is allowed here"), "{e}");
}

#[test]
fn no_region_validates_and_cannot_start() {
    // Packer 1.6.6's `validate` passes without a region (and without
    // any AWS environment); the build must stop before any API call.
    if std::env::var_os("AWS_REGION").is_some() || std::env::var_os("AWS_DEFAULT_REGION").is_some()
    {
        return;
    }
    let mut v = with(json!({"instance_type": "t3.micro"}));
    v.as_object_mut().unwrap().remove("region");
    let cfg = prepare(&RawConfig::from_value(v), &prepare_cx("amazon-ebs")).unwrap();
    assert_eq!(cfg.access.region, "");
    let why = cannot_start(&cfg).unwrap();
    assert!(why.starts_with("no AWS region: set `region`"), "{why}");
}

#[test]
fn session_manager_validates_and_cannot_start() {
    // Packer 1.6.6 requires an instance profile with it.
    let raw = RawConfig::from_value(with(json!({
        "instance_type": "t3.micro", "ssh_interface": "session_manager"
    })));
    let e = prepare(&raw, &prepare_cx("amazon-ebs"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no `iam_instance_profile` defined"), "{e}");
    let raw = RawConfig::from_value(with(json!({
        "instance_type": "t3.micro", "ssh_interface": "session_manager",
        "iam_instance_profile": "ssm", "session_manager_port": 8123
    })));
    let cfg = prepare(&raw, &prepare_cx("amazon-ebs")).unwrap();
    assert_eq!(cfg.ssh_interface, SshInterface::SessionManager);
    let why = cannot_start(&cfg).unwrap();
    assert!(why.contains("is not supported by kiln yet"), "{why}");
    let raw = RawConfig::from_value(with(json!({
        "instance_type": "t3.micro", "ssh_interface": "session_manger"
    })));
    let e = prepare(&raw, &prepare_cx("amazon-ebs"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean `session_manager`?"), "{e}");
}

#[test]
fn ami_virtualization_type_is_accepted() {
    // Packer 1.6.6's amazon-ebs accepts any value; it only matters for
    // enhanced networking (see step_source_ami_info).
    let raw = RawConfig::from_value(with(json!({
        "instance_type": "t3.micro", "ami_virtualization_type": "paravirtual"
    })));
    let cfg = prepare(&raw, &prepare_cx("amazon-ebs")).unwrap();
    assert_eq!(cfg.ami_virtualization_type.as_deref(), Some("paravirtual"));
    assert_eq!(cannot_start(&cfg), None);
    let e = crate::step_source_ami_info::enhanced_networking_error;
    assert_eq!(e(&cfg, Some("hvm"), "ami-1"), None);
    let mut ena = cfg.clone();
    ena.ena_support = Some(true);
    assert_eq!(
        e(&ena, Some("hvm"), "ami-1").unwrap(),
        "cannot enable enhanced networking: `ami_virtualization_type` `paravirtual` is not `hvm`"
    );
    ena.ami_virtualization_type = None;
    assert_eq!(e(&ena, Some("hvm"), "ami-1"), None);
    assert!(e(&ena, Some("paravirtual"), "ami-1")
        .unwrap()
        .contains("the source AMI `ami-1` is not HVM"));
    ena.ami_virtualization_type = Some("hvm".into());
    assert_eq!(e(&ena, Some("paravirtual"), "ami-1"), None);
}

#[test]
fn ami_name_rules() {
    assert!(check_ami_name("ok name (1) [x] ./-'@_").is_none());
    assert!(check_ami_name("no*stars").is_some());
    assert!(check_ami_name("ab").is_some());
}

#[test]
fn max_retries_unset_or_zero_is_left_to_the_policy() {
    let cx = prepare_cx("amazon-ebs");
    let retries = |mut extra: serde_json::Value| {
        extra["instance_type"] = json!("t3.micro");
        prepare(&RawConfig::from_value(with(extra)), &cx)
            .unwrap()
            .access
            .max_retries
    };
    assert_eq!(retries(json!({})), None);
    assert_eq!(retries(json!({"max_retries": 0})), None);
    assert_eq!(retries(json!({"max_retries": 3})), Some(3));
    assert_eq!(retries(json!({"max_retries": "7"})), Some(7));
}

#[test]
fn each_section_reports_its_type_errors_and_unknown_keys_once() {
    let raw = RawConfig::from_value(with(json!({
        "max_retries": "many",
        "ebs_optimized": "sometimes",
        "subnet_filtr": {},
        "launch_block_device_mappings": [{"device_name": "/dev/sda1", "volume_sise": 8}]
    })));
    let e = prepare(&raw, &prepare_cx("amazon-ebs"))
        .unwrap_err()
        .to_string();
    for want in [
        "`max_retries`",
        "`ebs_optimized`",
        "unknown configuration key `subnet_filtr`",
        "did you mean `subnet_filter`?",
        "volume_sise",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
    assert_eq!(
        e.matches("unknown configuration key `subnet_filtr`")
            .count(),
        1,
        "{e}"
    );
}
