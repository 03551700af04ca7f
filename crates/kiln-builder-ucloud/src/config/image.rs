//! The image section (the plugin's `ImageConfig`): `image_name`,
//! `image_description`, `image_copy_to_mappings` (`project_id`, `region`,
//! `name`, `description`) and `wait_image_ready_timeout` (seconds, 3600 by
//! default). Pure; holds nothing.

use std::time::Duration;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;

/// The plugin's `DefaultCreateImageTimeout`.
pub const DEFAULT_IMAGE_TIMEOUT: Duration = Duration::from_secs(3600);

/// One `image_copy_to_mappings` entry as written.
#[derive(Deserialize, Default, Clone)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawCopy {
    pub(super) project_id: Option<String>,
    pub(super) region: Option<String>,
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
}

/// The image keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawImage {
    pub(super) image_name: Option<String>,
    pub(super) image_description: Option<String>,
    pub(super) image_copy_to_mappings: Vec<RawCopy>,
    pub(super) wait_image_ready_timeout: Option<i64>,
}

/// One copy of the image into another project and/or region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageCopy {
    /// The target project.
    pub project_id: String,
    /// The target region.
    pub region: String,
    /// The copy's name (`image_name` when not given).
    pub name: String,
    /// The copy's description.
    pub description: String,
}

/// The validated image section.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// `image_name`.
    pub image_name: String,
    /// `image_description`.
    pub image_description: String,
    /// `image_copy_to_mappings`.
    pub copies: Vec<ImageCopy>,
    /// `wait_image_ready_timeout`.
    pub wait_image_ready_timeout: Duration,
}

/// Whether `name` is 1-63 characters of letters (Chinese too), digits and
/// `-_,.:[]` (the plugin's `ImageNamePattern`).
pub fn valid_image_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=63).contains(&n)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_,.:[]".contains(c))
}

pub(super) fn prepare(r: &RawImage, errors: &mut ConfigErrors) -> ImageConfig {
    let image_name = nonempty(r.image_name.clone()).unwrap_or_default();
    let name_error = |key: &str, name: &str| {
        ConfigError::at(
            key.to_string(),
            format!("expected `{key}` to be 1-63 characters of letters, digits and `-_,.:[]`, got `{name}`"),
        )
    };
    if image_name.is_empty() {
        errors.push(ConfigError::at("image_name", "`image_name` must be set"));
    } else if !valid_image_name(&image_name) {
        errors.push(name_error("image_name", &image_name));
    }
    let mut copies = Vec::new();
    for (i, c) in r.image_copy_to_mappings.iter().enumerate() {
        let at = |k: &str| format!("image_copy_to_mappings[{i}].{k}");
        let project_id = nonempty(c.project_id.clone()).unwrap_or_default();
        let region = nonempty(c.region.clone()).unwrap_or_default();
        if project_id.is_empty() {
            errors.push(ConfigError::at(
                at("project_id"),
                "the copy's `project_id` must be set",
            ));
        }
        if region.is_empty() {
            errors.push(ConfigError::at(
                at("region"),
                "the copy's `region` must be set",
            ));
        }
        let name = nonempty(c.name.clone()).unwrap_or_else(|| image_name.clone());
        if c.name.is_some() && !valid_image_name(&name) {
            errors.push(name_error(&at("name"), &name));
        }
        copies.push(ImageCopy {
            project_id,
            region,
            name,
            description: c.description.clone().unwrap_or_default(),
        });
    }
    let wait_image_ready_timeout = match r.wait_image_ready_timeout {
        Some(s) if s > 0 => Duration::from_secs(s as u64),
        _ => DEFAULT_IMAGE_TIMEOUT,
    };
    ImageConfig {
        image_name,
        image_description: r.image_description.clone().unwrap_or_default(),
        copies,
        wait_image_ready_timeout,
    }
}
