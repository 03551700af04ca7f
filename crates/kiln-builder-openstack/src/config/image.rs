//! The image section (Packer's `ImageConfig`): `image_name`, `metadata`
//! (Glance properties, `image_type: image` by default, as Packer sets it
//! so that the image is listed as an image, not a snapshot),
//! `image_visibility`, `image_members`, `image_auto_accept_members`,
//! `image_disk_format` (block-storage builds only), `image_tags`,
//! `image_min_disk` and `skip_create_image`. Pure; holds nothing.

use std::collections::BTreeMap;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;
use super::run::VISIBILITIES;

/// The image keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawImage {
    image_name: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    image_visibility: Option<String>,
    image_members: Vec<String>,
    image_auto_accept_members: bool,
    image_disk_format: Option<String>,
    image_tags: Vec<String>,
    image_min_disk: i64,
    skip_create_image: bool,
}

/// The validated image keys.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// `image_name`.
    pub name: String,
    /// `metadata`: the image's properties (with `image_type`).
    pub metadata: BTreeMap<String, String>,
    /// `image_visibility`, lower-cased.
    pub visibility: Option<String>,
    /// `image_members` (project ids).
    pub members: Vec<String>,
    /// `image_auto_accept_members`.
    pub auto_accept_members: bool,
    /// `image_disk_format`.
    pub disk_format: Option<String>,
    /// `image_tags`.
    pub tags: Vec<String>,
    /// `image_min_disk` GB.
    pub min_disk: Option<u32>,
    /// `skip_create_image`.
    pub skip_create: bool,
}

/// Validates the image keys.
pub(super) fn prepare(r: &RawImage, errors: &mut ConfigErrors) -> ImageConfig {
    let name = nonempty(r.image_name.clone()).unwrap_or_default();
    if name.is_empty() {
        errors.push(ConfigError::at(
            "image_name",
            "an `image_name` must be specified",
        ));
    }
    let mut metadata = r.metadata.clone().unwrap_or_default();
    if metadata.get("image_type").is_none_or(|t| t.is_empty()) {
        metadata.insert("image_type".into(), "image".into());
    }
    let visibility = nonempty(r.image_visibility.clone()).map(|v| {
        let lower = v.to_lowercase();
        if !VISIBILITIES.contains(&lower.as_str()) {
            errors.push(ConfigError::at(
                "image_visibility",
                format!(
                    "unknown visibility value `{v}`: expected one of `public`, `private`, `shared`, `community`"
                ),
            ));
        }
        lower
    });
    if r.image_min_disk < 0 {
        errors.push(ConfigError::at(
            "image_min_disk",
            "an image min disk size must be greater than or equal to 0",
        ));
    }
    ImageConfig {
        name,
        metadata,
        visibility,
        members: r.image_members.clone(),
        auto_accept_members: r.image_auto_accept_members,
        disk_format: nonempty(r.image_disk_format.clone()),
        tags: r.image_tags.clone(),
        min_disk: u32::try_from(r.image_min_disk).ok().filter(|d| *d > 0),
        skip_create: r.skip_create_image,
    }
}
