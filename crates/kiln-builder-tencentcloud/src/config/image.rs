//! The image section (Packer's `TencentCloudImageConfig`): `image_name`,
//! `image_description`, `reboot`, `force_poweroff`, `sysprep`,
//! `image_force_delete`, `image_copy_regions` and `image_share_accounts`.
//! Pure; holds nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::access::known_region;
use super::nonempty;

/// The image keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawImage {
    pub(super) image_name: Option<String>,
    pub(super) image_description: Option<String>,
    pub(super) reboot: bool,
    pub(super) force_poweroff: bool,
    pub(super) sysprep: bool,
    pub(super) image_force_delete: bool,
    pub(super) image_copy_regions: Vec<String>,
    pub(super) image_share_accounts: Vec<String>,
}

/// The image keys, validated.
#[derive(Debug, Clone)]
pub struct ImageConfig {
    /// `image_name` (at most 60 characters).
    pub image_name: String,
    /// `image_description` (at most 60 characters).
    pub image_description: String,
    /// `reboot` (deprecated in Packer: accepted, unused).
    pub reboot: bool,
    /// `force_poweroff`: `CreateImage`'s `ForcePoweroff`.
    pub force_poweroff: bool,
    /// `sysprep`: `CreateImage`'s `Sysprep` (Windows).
    pub sysprep: bool,
    /// `image_force_delete`: delete an image of the same name first.
    pub image_force_delete: bool,
    /// `image_copy_regions`, the build region left out.
    pub image_copy_regions: Vec<String>,
    /// `image_share_accounts`.
    pub image_share_accounts: Vec<String>,
}

/// Validates the image keys; `region` is the build region,
/// `skip_region_validation` lets unknown copy regions through.
pub(super) fn prepare(
    r: &RawImage,
    region: &str,
    skip_region_validation: bool,
    errors: &mut ConfigErrors,
) -> ImageConfig {
    let image_name = nonempty(r.image_name.clone()).unwrap_or_default();
    if image_name.is_empty() {
        errors.push(ConfigError::at(
            "image_name",
            "image_name must be specified",
        ));
    } else if image_name.chars().count() > 60 {
        errors.push(ConfigError::at(
            "image_name",
            format!("image_name length should not exceed 60 characters: `{image_name}`"),
        ));
    }
    let image_description = r.image_description.clone().unwrap_or_default();
    if image_description.chars().count() > 60 {
        errors.push(ConfigError::at(
            "image_description",
            "image_description length should not exceed 60 characters",
        ));
    }
    let mut copies = Vec::new();
    for (i, region_name) in r.image_copy_regions.iter().enumerate() {
        if !skip_region_validation && !known_region(region_name) {
            errors.push(ConfigError::at(
                format!("image_copy_regions[{i}]"),
                format!("unknown region: `{region_name}`"),
            ));
        }
        if region_name != region && !copies.contains(region_name) {
            copies.push(region_name.clone());
        }
    }
    for (i, a) in r.image_share_accounts.iter().enumerate() {
        if a.is_empty() || !a.chars().all(|c| c.is_ascii_digit()) {
            errors.push(ConfigError::at(
                format!("image_share_accounts[{i}]"),
                format!("`{a}` is not a Tencent Cloud account id (digits)"),
            ));
        }
    }
    ImageConfig {
        image_name,
        image_description,
        reboot: r.reboot,
        force_poweroff: r.force_poweroff,
        sysprep: r.sysprep,
        image_force_delete: r.image_force_delete,
        image_copy_regions: copies,
        image_share_accounts: r.image_share_accounts.clone(),
    }
}
