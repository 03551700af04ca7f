//! The disk section (Packer's `AlicloudDiskDevices`): `system_disk_mapping`
//! (the build instance's system disk) and `image_disk_mappings` (data
//! disks added to the instance and the image), each entry's `disk_*`
//! keys typed: the category as an enum, the size in GiB. Pure; holds
//! nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;
use super::raw::{one_block, one_or_many};

/// The disk keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawDisks {
    #[serde(deserialize_with = "one_block")]
    pub(super) system_disk_mapping: Option<RawDisk>,
    #[serde(deserialize_with = "one_or_many")]
    pub(super) image_disk_mappings: Vec<RawDisk>,
}

/// One disk mapping as written.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDisk {
    disk_name: Option<String>,
    disk_category: Option<String>,
    disk_size: Option<i64>,
    disk_snapshot_id: Option<String>,
    disk_description: Option<String>,
    disk_delete_with_instance: bool,
    disk_device: Option<String>,
    disk_encrypted: Option<bool>,
}

/// `disk_category`: the ECS disk categories, and any other the API may
/// add (passed through as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskCategory {
    /// `cloud`: a basic disk.
    Cloud,
    /// `cloud_efficiency`: an ultra disk.
    CloudEfficiency,
    /// `cloud_ssd`: a standard SSD.
    CloudSsd,
    /// `cloud_essd`: an enhanced SSD.
    CloudEssd,
    /// `cloud_essd_entry`: an entry-level ESSD.
    CloudEssdEntry,
    /// `cloud_auto`: an ESSD AutoPL disk.
    CloudAuto,
    /// `ephemeral_ssd`: a local SSD.
    EphemeralSsd,
    /// A category kiln does not know, as written (Packer passes any).
    Other(String),
}

impl DiskCategory {
    const KNOWN: [(&'static str, DiskCategory); 7] = [
        ("cloud", DiskCategory::Cloud),
        ("cloud_efficiency", DiskCategory::CloudEfficiency),
        ("cloud_ssd", DiskCategory::CloudSsd),
        ("cloud_essd", DiskCategory::CloudEssd),
        ("cloud_essd_entry", DiskCategory::CloudEssdEntry),
        ("cloud_auto", DiskCategory::CloudAuto),
        ("ephemeral_ssd", DiskCategory::EphemeralSsd),
    ];

    /// The category of `s`.
    pub fn parse(s: &str) -> DiskCategory {
        Self::KNOWN
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| DiskCategory::Other(s.to_string()))
    }

    /// The API's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            DiskCategory::Other(s) => s,
            known => Self::KNOWN
                .iter()
                .find(|(_, c)| c == known)
                .map(|(name, _)| *name)
                .unwrap_or_default(),
        }
    }
}

/// One disk mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disk {
    /// `disk_name`.
    pub name: Option<String>,
    /// `disk_category`; `None` leaves it to the API.
    pub category: Option<DiskCategory>,
    /// `disk_size` in GiB; `None` (unset or 0) leaves it to the API.
    pub size_gib: Option<u32>,
    /// `disk_snapshot_id` (data disks only).
    pub snapshot_id: Option<String>,
    /// `disk_description`.
    pub description: Option<String>,
    /// `disk_delete_with_instance`.
    pub delete_with_instance: bool,
    /// `disk_device` (`/dev/xvdb`).
    pub device: Option<String>,
    /// `disk_encrypted`; `None` keeps the source's setting.
    pub encrypted: Option<bool>,
}

/// Validates both mappings: (system disk, data disks).
pub(super) fn prepare(r: &RawDisks, errors: &mut ConfigErrors) -> (Option<Disk>, Vec<Disk>) {
    let system = r.system_disk_mapping.as_ref().map(|d| {
        if nonempty(d.disk_snapshot_id.clone()).is_some() {
            errors.push(ConfigError::at(
                "system_disk_mapping.disk_snapshot_id",
                "`disk_snapshot_id` applies to `image_disk_mappings` only: the system disk comes from the source image",
            ));
        }
        disk("system_disk_mapping", d, errors)
    });
    let data = r
        .image_disk_mappings
        .iter()
        .enumerate()
        .map(|(i, d)| disk(&format!("image_disk_mappings[{i}]"), d, errors))
        .collect();
    (system, data)
}

fn disk(path: &str, d: &RawDisk, errors: &mut ConfigErrors) -> Disk {
    let size_gib = match d.disk_size {
        Some(n) if n < 0 || n > i64::from(u32::MAX) => {
            errors.push(ConfigError::at(
                format!("{path}.disk_size"),
                format!("`disk_size` must be a size in GiB, found `{n}`"),
            ));
            None
        }
        Some(0) | None => None,
        Some(n) => u32::try_from(n).ok(),
    };
    Disk {
        name: nonempty(d.disk_name.clone()),
        category: nonempty(d.disk_category.clone()).map(|c| DiskCategory::parse(&c)),
        size_gib,
        snapshot_id: nonempty(d.disk_snapshot_id.clone()),
        description: nonempty(d.disk_description.clone()),
        delete_with_instance: d.disk_delete_with_instance,
        device: nonempty(d.disk_device.clone()),
        encrypted: d.disk_encrypted,
    }
}
