//! The run section (Packer's `TencentCloudRunConfig` less the network):
//! the source image (`source_image_id` or a `source_image_name` regular
//! expression), `instance_type`, `instance_name`, `host_name`, the disks
//! (`disk_type`, `disk_size`, `data_disks`), the public address
//! (`associate_public_ip_address`, `internet_charge_type`,
//! `internet_max_bandwidth_out`, `ssh_private_ip`), `user_data(_file)` and
//! `run_tags`. Pure (it only checks that `user_data_file` exists); holds
//! nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln_cloud::config::check_keypair_name;
use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_ssh::CommunicatorConfig;
use serde::Deserialize;

use super::nonempty;

/// The disk types CVM takes (Packer's `ValidCBSType`).
pub const DISK_TYPES: &[&str] = &[
    "LOCAL_BASIC",
    "LOCAL_SSD",
    "CLOUD_BASIC",
    "CLOUD_SSD",
    "CLOUD_PREMIUM",
];

/// The charge types of the public bandwidth.
pub const INTERNET_CHARGE_TYPES: &[&str] = &[
    "TRAFFIC_POSTPAID_BY_HOUR",
    "BANDWIDTH_POSTPAID_BY_HOUR",
    "BANDWIDTH_PACKAGE",
    "BANDWIDTH_PREPAID",
];

/// One `data_disks` entry as the template writes it.
#[derive(Deserialize, Default, Clone)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawDataDisk {
    disk_type: Option<String>,
    disk_size: i64,
    disk_snapshot_id: Option<String>,
}

/// The run keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawRun {
    pub(super) source_image_id: Option<String>,
    pub(super) source_image_name: Option<String>,
    pub(super) instance_type: Option<String>,
    pub(super) instance_name: Option<String>,
    pub(super) host_name: Option<String>,
    pub(super) disk_type: Option<String>,
    pub(super) disk_size: i64,
    pub(super) data_disks: Vec<RawDataDisk>,
    pub(super) associate_public_ip_address: bool,
    pub(super) internet_charge_type: Option<String>,
    pub(super) internet_max_bandwidth_out: i64,
    pub(super) ssh_private_ip: bool,
    pub(super) user_data: Option<String>,
    pub(super) user_data_file: Option<String>,
    pub(super) run_tags: BTreeMap<String, String>,
    pub(super) ssh_keypair_name: Option<String>,
}

/// The source image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceImage {
    /// `source_image_id` (`img-xxxxxxxx`).
    Id(String),
    /// `source_image_name`: the first image whose name matches this
    /// regular expression (checked by the step: kiln has no regex crate
    /// in prepare; an unanchored substring match of a plain name, or the
    /// expression's own syntax when it has one).
    Name(String),
}

/// One data disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDisk {
    /// `disk_type` (`CLOUD_BASIC` by default).
    pub disk_type: String,
    /// `disk_size` in GB.
    pub disk_size: i64,
    /// `disk_snapshot_id`.
    pub snapshot_id: Option<String>,
}

/// The run keys, validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The source image.
    pub source_image: SourceImage,
    /// `instance_type`.
    pub instance_type: String,
    /// `instance_name` (`packer_<id>` by default, as Packer's).
    pub instance_name: Option<String>,
    /// `host_name` (the instance name's first 15 characters by default).
    pub host_name: Option<String>,
    /// `disk_type` (`CLOUD_BASIC` by default).
    pub disk_type: String,
    /// `disk_size` in GB (50 by default).
    pub disk_size: i64,
    /// `data_disks`.
    pub data_disks: Vec<DataDisk>,
    /// `associate_public_ip_address`.
    pub associate_public_ip_address: bool,
    /// `internet_charge_type` (`TRAFFIC_POSTPAID_BY_HOUR` by default).
    pub internet_charge_type: String,
    /// `internet_max_bandwidth_out` in Mbps (1 by default with a public
    /// address).
    pub internet_max_bandwidth_out: i64,
    /// `ssh_private_ip`: connect to the private address.
    pub ssh_private_ip: bool,
    /// `user_data`.
    pub user_data: Option<String>,
    /// `user_data_file`.
    pub user_data_file: Option<PathBuf>,
    /// `run_tags`: the instance's tags.
    pub run_tags: BTreeMap<String, String>,
    /// `ssh_keypair_name`: an existing key pair (its name).
    pub ssh_keypair_name: Option<String>,
}

/// Whether `id` is a Tencent resource id of `kind` (`img-xxxxxxxx`,
/// Packer's `CheckResourceIdFormat`).
pub fn is_resource_id(kind: &str, id: &str) -> bool {
    id.strip_prefix(kind)
        .and_then(|s| s.strip_prefix('-'))
        .is_some_and(|s| {
            s.len() == 8
                && s.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        })
}

fn disk_type(key: &str, value: Option<&String>, errors: &mut ConfigErrors) -> String {
    match value.filter(|v| !v.is_empty()) {
        None => "CLOUD_BASIC".into(),
        Some(t) if DISK_TYPES.contains(&t.as_str()) => t.clone(),
        Some(t) => {
            errors.push(
                ConfigError::at(key, format!("specified disk_type(`{t}`) is invalid"))
                    .with_hint(format!("one of {}", DISK_TYPES.join(", "))),
            );
            t.clone()
        }
    }
}

/// Validates the run keys; `communicator` is the decoded communicator
/// (`ssh_keypair_name` needs its private key).
pub(super) fn prepare(
    r: &RawRun,
    communicator: &CommunicatorConfig,
    errors: &mut ConfigErrors,
) -> RunConfig {
    let ssh_keypair_name = nonempty(r.ssh_keypair_name.clone());
    check_keypair_name(ssh_keypair_name.as_deref(), communicator, errors);
    let source_image = match (
        nonempty(r.source_image_id.clone()),
        nonempty(r.source_image_name.clone()),
    ) {
        (Some(id), _) => {
            if !is_resource_id("img", &id) {
                errors.push(ConfigError::at(
                    "source_image_id",
                    format!("source_image_id wrong format: `{id}` is not `img-` and 8 characters"),
                ));
            }
            SourceImage::Id(id)
        }
        (None, Some(name)) => {
            // Packer finds out at run time ("regex compilation error"),
            // after the key pair is made; kiln before anything is.
            if let Err(e) = crate::steps::name_pattern(&name) {
                errors.push(ConfigError::at(
                    "source_image_name",
                    format!(
                        "source_image_name `{name}` is not a valid regular expression: {}\n  hint: it is matched anywhere in the image's name (RE2 syntax); escape `.`, `(` and `[` to match them as they are",
                        last_line(&e.to_string())
                    ),
                ));
            }
            SourceImage::Name(name)
        }
        (None, None) => {
            errors.push(ConfigError::at(
                "source_image_id",
                "source_image_id or source_image_name must be specified",
            ));
            SourceImage::Id(String::new())
        }
    };
    let instance_type = nonempty(r.instance_type.clone()).unwrap_or_default();
    if instance_type.is_empty() {
        errors.push(ConfigError::at(
            "instance_type",
            "instance_type must be specified",
        ));
    }
    let user_data_file = nonempty(r.user_data_file.clone()).map(PathBuf::from);
    if r.user_data.as_deref().is_some_and(|d| !d.is_empty()) && user_data_file.is_some() {
        errors.push(ConfigError::at(
            "user_data",
            "only one of user_data or user_data_file can be specified",
        ));
    } else if let Some(f) = &user_data_file {
        if !f.exists() {
            errors.push(ConfigError::at(
                "user_data_file",
                format!("user_data_file not exist: `{}`", f.display()),
            ));
        }
    }
    let charge = nonempty(r.internet_charge_type.clone())
        .unwrap_or_else(|| "TRAFFIC_POSTPAID_BY_HOUR".into());
    if !INTERNET_CHARGE_TYPES.contains(&charge.as_str()) {
        errors.push(
            ConfigError::at(
                "internet_charge_type",
                format!("unknown internet_charge_type `{charge}`"),
            )
            .with_hint(format!("one of {}", INTERNET_CHARGE_TYPES.join(", "))),
        );
    }
    if r.internet_max_bandwidth_out < 0 {
        errors.push(ConfigError::at(
            "internet_max_bandwidth_out",
            "internet_max_bandwidth_out must not be negative",
        ));
    }
    let data_disks = r
        .data_disks
        .iter()
        .enumerate()
        .map(|(i, d)| {
            if d.disk_size <= 0 && d.disk_snapshot_id.is_none() {
                errors.push(ConfigError::at(
                    format!("data_disks[{i}].disk_size"),
                    "a data disk needs a `disk_size` (or a `disk_snapshot_id`)",
                ));
            }
            DataDisk {
                disk_type: disk_type(
                    &format!("data_disks[{i}].disk_type"),
                    d.disk_type.as_ref(),
                    errors,
                ),
                disk_size: d.disk_size,
                snapshot_id: nonempty(d.disk_snapshot_id.clone()),
            }
        })
        .collect();
    RunConfig {
        source_image,
        instance_type,
        instance_name: nonempty(r.instance_name.clone()),
        host_name: nonempty(r.host_name.clone()),
        disk_type: disk_type("disk_type", r.disk_type.as_ref(), errors),
        disk_size: if r.disk_size <= 0 { 50 } else { r.disk_size },
        data_disks,
        associate_public_ip_address: r.associate_public_ip_address,
        internet_charge_type: charge,
        internet_max_bandwidth_out: if r.associate_public_ip_address
            && r.internet_max_bandwidth_out <= 0
        {
            1
        } else {
            r.internet_max_bandwidth_out
        },
        ssh_private_ip: r.ssh_private_ip,
        user_data: nonempty(r.user_data.clone()),
        user_data_file,
        run_tags: r.run_tags.clone(),
        ssh_keypair_name,
    }
}

/// The `regex` crate's error without its drawing of the pattern: its last
/// line says what is wrong.
fn last_line(error: &str) -> &str {
    error
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(error)
        .trim()
}
