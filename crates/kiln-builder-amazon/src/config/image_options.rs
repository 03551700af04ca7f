//! The image options (the rest of Packer's `AMIConfig`): the tag maps'
//! template syntax (`tags`, `snapshot_tags`: rendered at run time),
//! `deprecate_at`, `imds_support`, `ena_support`, `sriov_support`,
//! `skip_create_ami`, kiln's own `checkpoint_images`, and what to do with an AMI that already has the
//! name (`force_deregister`, `force_delete_snapshot`). Pure; holds
//! nothing.

use std::collections::BTreeMap;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;
use super::raw::check_tags;

/// The image options as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawImageOptions {
    pub(super) tags: BTreeMap<String, String>,
    pub(super) snapshot_tags: BTreeMap<String, String>,
    pub(super) force_deregister: bool,
    pub(super) force_delete_snapshot: bool,
    pub(super) skip_create_ami: bool,
    pub(super) deprecate_at: Option<String>,
    pub(super) ena_support: Option<bool>,
    pub(super) sriov_support: bool,
    pub(super) imds_support: Option<String>,
    pub(super) ami_virtualization_type: Option<String>,
    pub(super) checkpoint_images: bool,
}

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

/// The image options, validated.
pub(super) struct ImageOptions {
    pub(super) deprecate_at: Option<chrono::DateTime<chrono::Utc>>,
    pub(super) imds_support: Option<String>,
    pub(super) existing_ami: ExistingAmi,
}

/// Validates the image options.
pub(super) fn prepare(r: &RawImageOptions, errors: &mut ConfigErrors) -> ImageOptions {
    check_tags("tags", &r.tags, errors);
    check_tags("snapshot_tags", &r.snapshot_tags, errors);
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
    ImageOptions {
        deprecate_at,
        imds_support,
        existing_ami,
    }
}
