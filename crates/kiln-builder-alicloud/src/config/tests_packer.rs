//! alicloud-ecs templates checked against Packer 1.6.6's `validate`: each
//! case records what packer says (and the test `packer_agrees` checks that
//! recording against the installed packer) and what kiln says. They agree
//! but where kiln knows more; each difference is named:
//!
//! - keys newer than packer 1.6.6, from packer-plugin-alicloud
//!   (`image_family`, `ram_role_name`, `custom_endpoint_ecs`,
//!   `security_enhancement_strategy`, `run_tags`, `snapshot_tags`,
//!   `cidr_block`), which packer 1.6.6 does not know;
//! - values packer 1.6.6 passes to the API unchecked and the API rejects
//!   (an unknown `internet_charge_type` or `security_enhancement_strategy`,
//!   a negative bandwidth or disk size, a malformed CIDR block, an empty
//!   tag key, a system disk `disk_snapshot_id`), which kiln rejects up
//!   front;
//! - kiln's communicator rules (`ssh_keypair_name` needs its private key;
//!   no `winrm`), as in amazon-ebs;
//! - the HCL2 block shape of `system_disk_mapping` (a one-element list),
//!   which kiln also takes in JSON.

use super::*;
use kiln_test::prepare_cx;
use serde_json::{json, Value};

/// What a validator says of a template.
pub(super) enum Verdict {
    /// Valid.
    Ok,
    /// Invalid, its output containing each of these.
    Err(&'static [&'static str]),
}

pub(super) struct Case {
    pub(super) name: &'static str,
    /// Keys merged into [`base`]; `null` removes a key.
    pub(super) keys: fn() -> Value,
    pub(super) packer: Verdict,
    pub(super) kiln: Verdict,
}

/// A valid template's builder keys.
pub(super) fn base() -> Value {
    json!({
        "access_key": "LTAI-example",
        "secret_key": "example-secret",
        "region": "cn-hangzhou",
        "image_name": "kiln-test",
        "source_image": "ubuntu_20_04_x64_20G_alibase_20201120.vhd",
        "instance_type": "ecs.t5-lc1m1.small",
        "ssh_username": "root"
    })
}

pub(super) fn merged(keys: &Value) -> Value {
    let mut v = base();
    for (k, x) in keys.as_object().expect("an object") {
        if x.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = x.clone();
        }
    }
    v
}

const UNKNOWN: &[&str] = &["unknown configuration key"];

pub(super) const CASES: &[Case] = &[
    Case { name: "valid", keys: || json!({}), packer: Verdict::Ok, kiln: Verdict::Ok },
    Case {
        name: "nothing set",
        keys: || json!({"access_key": null, "secret_key": null, "region": null, "image_name": null, "source_image": null, "instance_type": null, "ssh_username": null}),
        packer: Verdict::Err(&[
            "ALICLOUD_ACCESS_KEY and ALICLOUD_SECRET_KEY must be set",
            "region option or ALICLOUD_REGION must be provided",
            "image_name must be specified",
            "An ssh_username must be specified",
            "A source_image must be specified",
            "An alicloud_instance_type must be specified",
        ]),
        kiln: Verdict::Err(&[
            "no Alibaba Cloud credentials: set `access_key` and `secret_key`",
            "a `region` must be specified",
            "an `image_name` must be specified",
            "an `ssh_username` must be specified",
            "a `source_image` (or an `image_family`) must be specified",
            "an `instance_type` must be specified",
        ]),
    },
    Case {
        name: "only an access key",
        keys: || json!({"secret_key": null}),
        packer: Verdict::Err(&["ALICLOUD_ACCESS_KEY and ALICLOUD_SECRET_KEY must be set"]),
        kiln: Verdict::Err(&["`access_key` is set but `secret_key` is not"]),
    },
    Case {
        name: "a profile instead of keys",
        keys: || json!({"access_key": null, "secret_key": null, "profile": "default", "shared_credentials_file": "/nonexistent/config.json"}),
        packer: Verdict::Ok,
        kiln: Verdict::Ok,
    },
    Case {
        name: "any region name (checked by the API at run time)",
        keys: || json!({"region": "nowhere-1", "skip_region_validation": true, "skip_image_validation": true, "security_token": "tok"}),
        packer: Verdict::Ok,
        kiln: Verdict::Ok,
    },
    Case {
        name: "image_name with a space",
        keys: || json!({"image_name": "a b"}),
        packer: Verdict::Err(&["image_name can't include spaces"]),
        kiln: Verdict::Err(&["`image_name` cannot contain spaces, found `a b`"]),
    },
    Case {
        name: "image_name starting with http://",
        keys: || json!({"image_name": "http://ab"}),
        packer: Verdict::Err(&["image_name can't start with 'http://' or 'https://'"]),
        kiln: Verdict::Err(&["`image_name` cannot start with `http://` or `https://`"]),
    },
    Case {
        name: "image_name of one character",
        keys: || json!({"image_name": "a"}),
        packer: Verdict::Err(&["image_name must less than 128 letters and more than 1 letters"]),
        kiln: Verdict::Err(&["`image_name` must be 2 to 128 bytes long, found 1"]),
    },
    Case {
        name: "image_name of 129 bytes",
        keys: || json!({"image_name": "a".repeat(129)}),
        packer: Verdict::Err(&["image_name must less than 128 letters and more than 1 letters"]),
        kiln: Verdict::Err(&["`image_name` must be 2 to 128 bytes long, found 129"]),
    },
    Case {
        name: "image_name of 128 bytes, and of two",
        keys: || json!({"image_name": "a".repeat(128), "image_copy_regions": ["cn-beijing"], "image_copy_names": ["ab"]}),
        packer: Verdict::Ok,
        kiln: Verdict::Ok,
    },
    Case {
        name: "image_name of 43 CJK characters (129 bytes)",
        keys: || json!({"image_name": "中".repeat(43)}),
        packer: Verdict::Err(&["image_name must less than 128 letters and more than 1 letters"]),
        kiln: Verdict::Err(&["`image_name` must be 2 to 128 bytes long, found 129"]),
    },
    Case {
        name: "image_name of 42 CJK characters, digits and punctuation",
        keys: || json!({"image_name": format!("1ab-_.x{}", "中".repeat(38))}),
        packer: Verdict::Ok,
        kiln: Verdict::Ok,
    },
    Case {
        name: "user_data and user_data_file",
        keys: || json!({"user_data": "x", "user_data_file": "/nonexistent/user-data"}),
        packer: Verdict::Err(&["Only one of user_data or user_data_file can be specified."]),
        kiln: Verdict::Err(&["only one of `user_data` and `user_data_file` may be given"]),
    },
    Case {
        name: "a missing user_data_file",
        keys: || json!({"user_data_file": "/nonexistent/user-data"}),
        packer: Verdict::Err(&["user_data_file not found: /nonexistent/user-data"]),
        kiln: Verdict::Err(&["user data file `/nonexistent/user-data` does not exist"]),
    },
    Case {
        name: "source_image with a leading space",
        keys: || json!({"source_image": " m-1"}),
        packer: Verdict::Err(&["The source_image can't include spaces"]),
        kiln: Verdict::Err(&["`source_image` cannot begin or end with whitespace"]),
    },
    Case {
        name: "booleans that are not",
        keys: || json!({"io_optimized": "maybe", "associate_public_ip_address": "yes"}),
        packer: Verdict::Err(&["io_optimized"]),
        kiln: Verdict::Err(&["`io_optimized`", "`associate_public_ip_address`"]),
    },
    Case {
        name: "Go booleans in strings",
        keys: || json!({"io_optimized": "1", "image_encrypted": "f", "ssh_private_ip": "T", "image_disk_mappings": [{"disk_encrypted": "true"}]}),
        packer: Verdict::Ok,
        kiln: Verdict::Ok,
    },
    Case {
        name: "a duration for wait_snapshot_ready_timeout",
        keys: || json!({"wait_snapshot_ready_timeout": "1h"}),
        packer: Verdict::Err(&["cannot parse 'wait_snapshot_ready_timeout' as int"]),
        kiln: Verdict::Err(&["`wait_snapshot_ready_timeout`"]),
    },
    Case {
        name: "an unknown disk key",
        keys: || json!({"image_disk_mappings": [{"disk_bogus": 1}]}),
        packer: Verdict::Err(&["unknown configuration key: '\"image_disk_mappings[0].disk_bogus\"'"]),
        kiln: Verdict::Err(&["disk_bogus"]),
    },
    Case {
        name: "one disk mapping as an object",
        keys: || json!({"image_disk_mappings": {"disk_size": 20, "disk_category": "cloud_essd"}}),
        packer: Verdict::Ok,
        kiln: Verdict::Ok,
    },
    Case {
        name: "system_disk_mapping as a one-element list (HCL2's block)",
        keys: || json!({"system_disk_mapping": [{"disk_size": "40"}]}),
        packer: Verdict::Err(&["'system_disk_mapping' expected a map, got 'slice'"]),
        kiln: Verdict::Ok,
    },
    Case {
        name: "an unknown key",
        keys: || json!({"image_nme": "x"}),
        packer: Verdict::Err(&["unknown configuration key: '\"image_nme\"'"]),
        kiln: Verdict::Err(&["unknown configuration key `image_nme`", "did you mean `image_name`?"]),
    },
    Case {
        name: "packer-plugin-alicloud's newer keys",
        keys: || json!({"source_image": null, "image_family": "acs:ubuntu_20_04_x64", "ram_role_name": "builder", "custom_endpoint_ecs": "ecs.cn-hangzhou.aliyuncs.com", "security_enhancement_strategy": "Deactive", "run_tags": {"a": "b"}, "snapshot_tags": {"a": "b"}, "cidr_block": "172.16.1.0/24"}),
        packer: Verdict::Err(UNKNOWN),
        kiln: Verdict::Ok,
    },
    Case {
        name: "both source_image and image_family",
        keys: || json!({"image_family": "acs:ubuntu_20_04_x64"}),
        packer: Verdict::Err(UNKNOWN),
        kiln: Verdict::Err(&["only one of `source_image` and `image_family` may be given"]),
    },
    Case {
        name: "values the ECS API rejects",
        keys: || json!({"internet_charge_type": "PayByTrafic", "internet_max_bandwidth_out": -1, "system_disk_mapping": {"disk_size": -3, "disk_snapshot_id": "s-1"}, "vpc_cidr_block": "10.0.0/8", "tags": {"": "x"}}),
        packer: Verdict::Ok,
        kiln: Verdict::Err(&[
            "`internet_charge_type` must be `PayByBandwidth` or `PayByTraffic`, found `PayByTrafic`",
            "did you mean `PayByTraffic`?",
            "`internet_max_bandwidth_out` must be a bandwidth in Mbit/s (0 or more), found `-1`",
            "`disk_size` must be a size in GiB, found `-3`",
            "`disk_snapshot_id` applies to `image_disk_mappings` only",
            "`vpc_cidr_block` must be an IPv4 CIDR block such as `172.16.0.0/16`, found `10.0.0/8`",
            "`tags` has a tag with an empty key",
        ]),
    },
    Case {
        name: "values the ECS API takes",
        keys: || json!({"internet_charge_type": "PayByTraffic", "internet_max_bandwidth_out": 100, "system_disk_mapping": {"disk_size": 40, "disk_category": "some_future_category"}, "vpc_cidr_block": "192.168.0.0/16", "tags": {"a": 1}, "image_copy_names": ["copy"], "image_share_account": "123", "wait_snapshot_ready_timeout": -5}),
        packer: Verdict::Ok,
        kiln: Verdict::Ok,
    },
    Case {
        name: "ssh_keypair_name without its private key",
        keys: || json!({"ssh_keypair_name": "kp"}),
        packer: Verdict::Ok,
        kiln: Verdict::Err(&["`ssh_keypair_name` needs `ssh_private_key_file` or `ssh_agent_auth`"]),
    },
    Case {
        name: "no communicator",
        keys: || json!({"communicator": "none", "ssh_username": null}),
        packer: Verdict::Ok,
        kiln: Verdict::Ok,
    },
];

fn check(who: &str, name: &str, verdict: &Verdict, ok: bool, output: &str) {
    match verdict {
        Verdict::Ok => assert!(ok, "{who} should accept {name:?}, said:\n{output}"),
        Verdict::Err(wants) => {
            assert!(!ok, "{who} should reject {name:?}");
            for w in *wants {
                assert!(
                    output.contains(w),
                    "{who} on {name:?}: missing {w:?} in:\n{output}"
                );
            }
        }
    }
}

#[test]
fn kiln_says_what_the_cases_record() {
    let no_env = |_: &str| None;
    for c in CASES {
        let raw = RawConfig::from_value(merged(&(c.keys)()));
        let r = prepare_with_env(&raw, &prepare_cx("alicloud-ecs"), &no_env);
        let text = r.as_ref().err().map(|e| e.to_string()).unwrap_or_default();
        check("kiln", c.name, &c.kiln, r.is_ok(), &text);
    }
}

#[test]
fn packer_agrees() {
    let Some(packer) = kiln_test::packer_or_skip("the alicloud-ecs validate cases") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for (i, c) in CASES.iter().enumerate() {
            let (packer, dir) = (&packer, dir.path());
            s.spawn(move || {
                let mut b = merged(&(c.keys)());
                b["type"] = json!("alicloud-ecs");
                let path = dir.join(format!("case-{i}.json"));
                std::fs::write(&path, json!({"builders": [b]}).to_string()).unwrap();
                let mut cmd = std::process::Command::new(packer);
                cmd.arg("validate")
                    .arg(&path)
                    .env("CHECKPOINT_DISABLE", "1");
                for v in [
                    "ALICLOUD_ACCESS_KEY",
                    "ALICLOUD_SECRET_KEY",
                    "ALICLOUD_REGION",
                    "ALICLOUD_PROFILE",
                    "ALICLOUD_SHARED_CREDENTIALS_FILE",
                    "SECURITY_TOKEN",
                ] {
                    cmd.env_remove(v);
                }
                let out = cmd.output().unwrap();
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                )
                .replace("\n", " ");
                check(
                    "packer 1.6.6",
                    c.name,
                    &c.packer,
                    out.status.success(),
                    &text,
                );
            });
        }
    });
}
