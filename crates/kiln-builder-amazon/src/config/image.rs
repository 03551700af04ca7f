//! The image section (Packer's `AMIConfig`): `ami_name` (EC2's naming
//! rule), `ami_description`, `ami_regions` and their KMS keys,
//! `encrypt_boot` / `kms_key_id`, the tag maps' template syntax (they are
//! rendered at run time), `deprecate_at`, `imds_support`, and what to do
//! with an AMI that already has the name (`force_deregister`,
//! `force_delete_snapshot`). Pure; holds nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::interpolate;

use super::access::check_region;
use super::nonempty;
use super::raw::Raw;

/// What happens to an AMI that already has `ami_name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingAmi {
    /// Fail in pre-validation (the default).
    Fail,
    /// `force_deregister`: deregister it, keeping its snapshots.
    Deregister,
    /// `force_deregister` + `force_delete_snapshot`.
    DeregisterAndDeleteSnapshots,
}

/// The image keys, validated.
pub(super) struct Image {
    pub(super) ami_name: String,
    pub(super) ami_regions: Vec<String>,
    pub(super) deprecate_at: Option<chrono::DateTime<chrono::Utc>>,
    pub(super) imds_support: Option<String>,
    pub(super) existing_ami: ExistingAmi,
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
/// to).
pub(super) fn prepare(r: &Raw, region: &str, errors: &mut ConfigErrors) -> Image {
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
            r.skip_region_validation,
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
    if r.encrypt_boot == Some(true) && (!r.ami_users.is_empty() || !r.ami_groups.is_empty()) {
        // Packer allows it (the users need the key too); warn-level in
        // Packer, so nothing to do here.
    }
    for (key, tags) in [
        ("tags", &r.tags),
        ("run_tags", &r.run_tags),
        ("run_volume_tags", &r.run_volume_tags),
        ("snapshot_tags", &r.snapshot_tags),
    ] {
        for (k, v) in tags {
            for s in [k, v] {
                if let Err(e) = interpolate::check_syntax(s) {
                    errors.push(ConfigError::at(format!("{key}.{k}"), e.to_string()));
                }
            }
        }
    }
    let deprecate_at = nonempty(r.deprecate_at.clone()).and_then(|d| {
        match chrono::DateTime::parse_from_rfc3339(&d) {
            Ok(t) => Some(t.with_timezone(&chrono::Utc)),
            Err(e) => {
                errors.push(ConfigError::at(
                    "deprecate_at",
                    format!("`{d}` is not an RFC 3339 time like `2030-01-02T15:04:05Z`: {e}"),
                ));
                None
            }
        }
    });
    let imds_support = nonempty(r.imds_support.clone());
    if let Some(v) = &imds_support {
        if v != "v2.0" {
            errors.push(ConfigError::at(
                "imds_support",
                format!("`imds_support` must be `v2.0`, found `{v}`"),
            ));
        }
    }
    let existing_ami = match (r.force_deregister, r.force_delete_snapshot) {
        (false, false) => ExistingAmi::Fail,
        (true, false) => ExistingAmi::Deregister,
        (true, true) => ExistingAmi::DeregisterAndDeleteSnapshots,
        (false, true) => {
            errors.push(ConfigError::at(
                "force_delete_snapshot",
                "`force_delete_snapshot` needs `force_deregister: true`",
            ));
            ExistingAmi::Fail
        }
    };
    Image {
        ami_name,
        ami_regions,
        deprecate_at,
        imds_support,
        existing_ami,
    }
}
