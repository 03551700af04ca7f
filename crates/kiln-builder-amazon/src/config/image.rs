//! The image section (the naming, copying and sharing half of Packer's
//! `AMIConfig`): `ami_name` (EC2's naming rule), `ami_description`,
//! `ami_regions` and their KMS keys, `encrypt_boot` / `kms_key_id`, and
//! who may launch the image or its snapshots (`ami_users`, `ami_groups`,
//! `snapshot_users`, `snapshot_groups`). Pure; holds nothing.

use std::collections::BTreeMap;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;
use super::regions::check_region;

/// The image keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawImage {
    pub(super) ami_name: Option<String>,
    pub(super) ami_description: Option<String>,
    pub(super) ami_regions: Vec<String>,
    pub(super) region_kms_key_ids: BTreeMap<String, String>,
    pub(super) encrypt_boot: Option<bool>,
    pub(super) kms_key_id: Option<String>,
    pub(super) ami_users: Vec<String>,
    pub(super) ami_groups: Vec<String>,
    pub(super) snapshot_users: Vec<String>,
    pub(super) snapshot_groups: Vec<String>,
}

/// The image keys, validated.
pub(super) struct Image {
    pub(super) ami_name: String,
    pub(super) ami_description: Option<String>,
    pub(super) ami_regions: Vec<String>,
    pub(super) kms_key_id: Option<String>,
}

/// Packer's rule for AMI names: 3 to 128 characters of
/// `[A-Za-z0-9()[] ./\-'@_]`.
pub fn check_ami_name(name: &str) -> Option<String> {
    if name.len() < 3 || name.len() > 128 {
        return Some(format!(
            "`ami_name` must be between 3 and 128 characters long, `{name}` has {}",
            name.len()
        ));
    }
    let bad: String = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || "()[] ./-'@_".contains(*c)))
        .collect();
    if !bad.is_empty() {
        return Some(format!(
            "`ami_name` `{name}` contains characters EC2 does not allow (`{bad}`); only letters, digits, parentheses, square brackets, spaces, periods, slashes, dashes, single quotes, at-signs and underscores"
        ));
    }
    None
}

/// Validates the image keys; `region` is the build region (not copied
/// to), `skip_region_validation` the access section's.
pub(super) fn prepare(
    r: &RawImage,
    region: &str,
    skip_region_validation: bool,
    errors: &mut ConfigErrors,
) -> Image {
    let ami_name = r.ami_name.clone().unwrap_or_default();
    if ami_name.is_empty() {
        errors.push(ConfigError::at(
            "ami_name",
            "an `ami_name` must be specified",
        ));
    } else if let Some(m) = check_ami_name(&ami_name) {
        errors.push(
            ConfigError::at("ami_name", m)
                .with_hint("the `clean_resource_name` function makes a name valid: `{{timestamp | clean_resource_name}}`"),
        );
    }
    if let Some(d) = &r.ami_description {
        if d.len() > 255 {
            errors.push(ConfigError::at(
                "ami_description",
                format!(
                    "`ami_description` may be 255 characters at most, found {}",
                    d.len()
                ),
            ));
        }
    }
    let mut ami_regions: Vec<String> = Vec::new();
    for (i, reg) in r.ami_regions.iter().enumerate() {
        check_region(
            &format!("ami_regions[{i}]"),
            reg,
            skip_region_validation,
            errors,
        );
        if reg != region && !ami_regions.contains(reg) {
            ami_regions.push(reg.clone());
        }
    }
    for reg in r.region_kms_key_ids.keys() {
        if !r.ami_regions.contains(reg) && reg != region {
            errors.push(ConfigError::at(
                format!("region_kms_key_ids.{reg}"),
                format!(
                    "region `{reg}` has a key in `region_kms_key_ids` but is not in `ami_regions`"
                ),
            ));
        }
    }
    if r.kms_key_id.as_deref().is_some_and(|k| !k.is_empty()) && r.encrypt_boot != Some(true) {
        errors.push(ConfigError::at(
            "kms_key_id",
            "`kms_key_id` needs `encrypt_boot: true`",
        ));
    }
    Image {
        ami_name,
        ami_description: nonempty(r.ami_description.clone()),
        ami_regions,
        kms_key_id: nonempty(r.kms_key_id.clone()),
    }
}
