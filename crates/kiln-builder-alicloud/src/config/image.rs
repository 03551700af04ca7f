//! The image section (Packer's `AlicloudImageConfig`): `image_name` (its
//! length and characters checked as Packer does), `image_version`,
//! `image_description`, the copies (`image_copy_regions` with
//! `image_copy_names`), sharing (`image_share_account`,
//! `image_unshare_account`), `image_encrypted`, the `image_force_delete*`
//! keys (set by `-force` too), `image_ignore_data_disks`, `tags` and
//! `snapshot_tags`. Pure; holds nothing.

use std::collections::BTreeMap;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::checks::check_tag_keys;
use super::nonempty;
use kiln_sdk::config::OneOrMany as Strings;

/// The image keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawImage {
    pub(super) image_name: Option<String>,
    pub(super) image_version: Option<String>,
    pub(super) image_description: Option<String>,
    pub(super) image_share_account: Strings,
    pub(super) image_unshare_account: Strings,
    pub(super) image_copy_regions: Strings,
    pub(super) image_copy_names: Strings,
    pub(super) image_encrypted: Option<bool>,
    pub(super) image_force_delete: bool,
    pub(super) image_force_delete_snapshots: bool,
    pub(super) image_force_delete_instances: bool,
    pub(super) image_ignore_data_disks: bool,
    pub(super) tags: BTreeMap<String, String>,
    pub(super) snapshot_tags: BTreeMap<String, String>,
}

/// One copy of the image to another region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageCopy {
    /// The destination region.
    pub region: String,
    /// Its name there (`image_copy_names`, by position); `None` keeps
    /// `image_name`.
    pub name: Option<String>,
}

/// What to do with existing images of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ForceDelete {
    /// `image_force_delete` (or `-force`): delete them first.
    pub images: bool,
    /// `image_force_delete_snapshots` (or `-force`): and their snapshots.
    pub snapshots: bool,
    /// `image_force_delete_instances`: accepted and, as in Packer 1.6.6
    /// (whose steps never read it), without effect.
    pub instances: bool,
}

/// The image keys, validated.
pub(super) struct Image {
    pub(super) name: String,
    pub(super) version: Option<String>,
    pub(super) description: Option<String>,
    pub(super) copies: Vec<ImageCopy>,
    pub(super) share_accounts: Vec<String>,
    pub(super) unshare_accounts: Vec<String>,
    pub(super) encrypted: Option<bool>,
    pub(super) force_delete: ForceDelete,
}

/// Why `name` is not a valid image name, as Packer 1.6.6 checks it: 2 to
/// 128 bytes (Packer counts UTF-8 bytes, so 42 CJK characters at most),
/// not starting with `http://` or `https://`, without whitespace.
pub fn check_image_name(key: &str, name: &str) -> Option<String> {
    if name.len() < 2 || name.len() > 128 {
        return Some(format!(
            "`{key}` must be 2 to 128 bytes long, found {} (`{name}`)",
            name.len()
        ));
    }
    if name.starts_with("http://") || name.starts_with("https://") {
        return Some(format!(
            "`{key}` cannot start with `http://` or `https://`, found `{name}`"
        ));
    }
    // Go's `\s`: ASCII whitespace only.
    if name.contains([' ', '\t', '\n', '\r', '\x0c']) {
        return Some(format!("`{key}` cannot contain spaces, found `{name}`"));
    }
    None
}

/// Validates the image keys; `force` is `-force`.
pub(super) fn prepare(r: &RawImage, force: bool, errors: &mut ConfigErrors) -> Image {
    let name = nonempty(r.image_name.clone()).unwrap_or_default();
    if name.is_empty() {
        errors.push(ConfigError::at(
            "image_name",
            "an `image_name` must be specified",
        ));
    } else if let Some(e) = check_image_name("image_name", &name) {
        errors.push(ConfigError::at("image_name", e));
    }
    // Packer drops repeated regions, keeping the first.
    let mut regions: Vec<String> = Vec::new();
    for region in r.image_copy_regions.non_empty() {
        if !regions.contains(&region) {
            regions.push(region);
        }
    }
    let names = r.image_copy_names.non_empty();
    let copies = regions
        .into_iter()
        .enumerate()
        .map(|(i, region)| ImageCopy {
            region,
            name: names.get(i).cloned(),
        })
        .collect();
    check_tag_keys("tags", &r.tags, errors);
    check_tag_keys("snapshot_tags", &r.snapshot_tags, errors);
    Image {
        name,
        version: nonempty(r.image_version.clone()),
        description: nonempty(r.image_description.clone()),
        copies,
        share_accounts: r.image_share_account.non_empty(),
        unshare_accounts: r.image_unshare_account.non_empty(),
        encrypted: r.image_encrypted,
        force_delete: ForceDelete {
            images: r.image_force_delete || force,
            snapshots: r.image_force_delete_snapshots || force,
            instances: r.image_force_delete_instances,
        },
    }
}
