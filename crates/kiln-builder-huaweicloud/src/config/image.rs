//! The image section (the plugin's `ImageConfig`): `image_name`,
//! `image_description`, `image_type` (`system` or `full-ecs`), `image_tags`, `image_members`,
//! `image_auto_accept_members`, `wait_image_ready_timeout`, and the older
//! plugin's `image_min_disk`. Pure; holds nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;

/// The image keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawImage {
    image_name: Option<String>,
    image_description: Option<String>,
    image_type: Option<String>,
    image_tags: BTreeMap<String, String>,
    image_members: Vec<String>,
    image_auto_accept_members: bool,
    wait_image_ready_timeout: Option<String>,
    image_min_disk: u32,
}

/// What the image holds (`image_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    /// `system` (the default): the system disk, IMS's `CreateImage`.
    System,
    /// `full-ecs`: every disk of the server, backed up into the CBR vault
    /// `vault_id`, IMS's `CreateWholeImage`.
    FullEcs,
}

/// The `image_type`s of the plugin.
pub const IMAGE_TYPES: &[&str] = &["system", "data-disk", "system-data", "full-ecs"];

/// The validated image keys.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// `image_name`.
    pub name: String,
    /// `image_type`.
    pub kind: ImageType,
    /// `image_description`.
    pub description: String,
    /// `image_tags`.
    pub tags: BTreeMap<String, String>,
    /// `image_members` (project ids).
    pub members: Vec<String>,
    /// `image_auto_accept_members` (deprecated; a message only).
    pub auto_accept_members: bool,
    /// `wait_image_ready_timeout` (default 30 minutes).
    pub timeout: Duration,
    /// `image_min_disk` GB.
    pub min_disk: Option<u32>,
}

/// The plugin's default `wait_image_ready_timeout`.
pub const DEFAULT_IMAGE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Validates the image keys.
pub(super) fn prepare(r: &RawImage, errors: &mut ConfigErrors) -> ImageConfig {
    let name = nonempty(r.image_name.clone()).unwrap_or_default();
    if name.is_empty() {
        errors.push(ConfigError::at(
            "image_name",
            "`image_name` must be specified",
        ));
    }
    let kind = match nonempty(r.image_type.clone()).as_deref() {
        None | Some("system") => ImageType::System,
        Some("full-ecs") => ImageType::FullEcs,
        Some(t) => {
            errors.push(ConfigError::at(
                "image_type",
                if IMAGE_TYPES.contains(&t) {
                    format!("`image_type` `{t}` is not supported by kiln's huaweicloud-ecs builder yet: `system` or `full-ecs`")
                } else {
                    format!(
                        "unknown `image_type` `{t}`: expected one of {}",
                        IMAGE_TYPES.join(", ")
                    )
                },
            ));
            ImageType::System
        }
    };
    let timeout = errors.duration(
        "wait_image_ready_timeout",
        r.wait_image_ready_timeout.as_deref().unwrap_or(""),
        DEFAULT_IMAGE_TIMEOUT,
    );
    if r.image_min_disk > 1024 {
        errors.push(ConfigError::at(
            "image_min_disk",
            format!(
                "`image_min_disk` must be from 1 to 1024 GB, not {}",
                r.image_min_disk
            ),
        ));
    }
    for m in &r.image_members {
        if m.len() != 32 || !m.chars().all(|c| c.is_ascii_hexdigit()) {
            errors.push(ConfigError::at(
                "image_members",
                format!("`{m}` is not a project ID (32 hexadecimal characters)"),
            ));
        }
    }
    ImageConfig {
        name,
        kind,
        description: r.image_description.clone().unwrap_or_default(),
        tags: r.image_tags.clone(),
        members: r.image_members.clone(),
        auto_accept_members: r.image_auto_accept_members,
        timeout,
        min_disk: (r.image_min_disk != 0).then_some(r.image_min_disk),
    }
}
