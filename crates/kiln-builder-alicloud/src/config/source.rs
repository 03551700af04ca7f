//! The source section (the instance half of Packer's `RunConfig`): what
//! the build instance starts from and what it is: `source_image` or
//! `image_family`, `instance_type`, `zone_id`, `io_optimized`,
//! `instance_name` and `description`. Pure; holds nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;

/// The source keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawSource {
    pub(super) source_image: Option<String>,
    pub(super) image_family: Option<String>,
    pub(super) instance_type: Option<String>,
    pub(super) zone_id: Option<String>,
    pub(super) io_optimized: Option<bool>,
    pub(super) instance_name: Option<String>,
    pub(super) description: Option<String>,
}

/// The image the build instance starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceImage {
    /// `source_image`: an image ID.
    Id(String),
    /// `image_family`: the newest available image of this family.
    Family(String),
}

/// The source keys, validated.
pub(super) struct Source {
    pub(super) image: SourceImage,
    pub(super) instance_type: String,
    pub(super) zone_id: Option<String>,
    pub(super) io_optimized: Option<bool>,
    pub(super) instance_name: Option<String>,
    pub(super) description: Option<String>,
}

/// Validates the source keys.
pub(super) fn prepare(r: &RawSource, errors: &mut ConfigErrors) -> Source {
    let id = nonempty(r.source_image.clone());
    let family = nonempty(r.image_family.clone());
    for (key, value) in [("source_image", &id), ("image_family", &family)] {
        if let Some(v) = value {
            if v.trim() != v {
                errors.push(ConfigError::at(
                    key,
                    format!("`{key}` cannot begin or end with whitespace, found `{v}`"),
                ));
            }
        }
    }
    let image = match (id, family) {
        (Some(id), None) => SourceImage::Id(id),
        (None, Some(family)) => SourceImage::Family(family),
        (Some(id), Some(_)) => {
            errors.push(ConfigError::at(
                "image_family",
                "only one of `source_image` and `image_family` may be given",
            ));
            SourceImage::Id(id)
        }
        (None, None) => {
            errors.push(ConfigError::at(
                "source_image",
                "a `source_image` (or an `image_family`) must be specified",
            ));
            SourceImage::Id(String::new())
        }
    };
    let instance_type = nonempty(r.instance_type.clone()).unwrap_or_default();
    if instance_type.is_empty() {
        errors.push(ConfigError::at(
            "instance_type",
            "an `instance_type` must be specified",
        ));
    }
    Source {
        image,
        instance_type,
        zone_id: nonempty(r.zone_id.clone()),
        io_optimized: r.io_optimized,
        instance_name: nonempty(r.instance_name.clone()),
        description: nonempty(r.description.clone()),
    }
}
