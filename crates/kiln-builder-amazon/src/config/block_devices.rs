//! The block-device section (Packer's `BlockDevices`):
//! `launch_block_device_mappings` (the build instance's volumes) and
//! `ami_block_device_mappings` (the image's), each entry checked for a
//! device name, a known volume type and `kms_key_id` only with
//! `encrypted`; and `no_ephemeral`. Pure; holds nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

/// The block-device keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawBlockDevices {
    pub(super) launch_block_device_mappings: Vec<RawBlockDevice>,
    pub(super) ami_block_device_mappings: Vec<RawBlockDevice>,
    pub(super) no_ephemeral: bool,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawBlockDevice {
    pub(super) device_name: String,
    pub(super) delete_on_termination: bool,
    pub(super) encrypted: Option<bool>,
    pub(super) iops: Option<i32>,
    pub(super) throughput: Option<i32>,
    pub(super) no_device: bool,
    pub(super) snapshot_id: Option<String>,
    pub(super) virtual_name: Option<String>,
    pub(super) volume_type: Option<String>,
    pub(super) volume_size: Option<i32>,
    pub(super) kms_key_id: Option<String>,
}

/// One `*_block_device_mappings` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDevice {
    /// `device_name`.
    pub device_name: String,
    /// `delete_on_termination`.
    pub delete_on_termination: bool,
    /// `encrypted`.
    pub encrypted: Option<bool>,
    /// `iops`.
    pub iops: Option<i32>,
    /// `throughput`.
    pub throughput: Option<i32>,
    /// `no_device`.
    pub no_device: bool,
    /// `snapshot_id`.
    pub snapshot_id: Option<String>,
    /// `virtual_name`.
    pub virtual_name: Option<String>,
    /// `volume_type`.
    pub volume_type: Option<String>,
    /// `volume_size` (GiB).
    pub volume_size: Option<i32>,
    /// `kms_key_id`.
    pub kms_key_id: Option<String>,
}

/// Validates both mapping lists: (launch, AMI).
pub(super) fn prepare(
    r: &RawBlockDevices,
    errors: &mut ConfigErrors,
) -> (Vec<BlockDevice>, Vec<BlockDevice>) {
    let launch = block_devices(
        "launch_block_device_mappings",
        &r.launch_block_device_mappings,
        errors,
    );
    let ami = block_devices(
        "ami_block_device_mappings",
        &r.ami_block_device_mappings,
        errors,
    );
    (launch, ami)
}

fn block_devices(key: &str, raw: &[RawBlockDevice], errors: &mut ConfigErrors) -> Vec<BlockDevice> {
    raw.iter()
        .enumerate()
        .map(|(i, b)| {
            if b.device_name.is_empty() {
                errors.push(ConfigError::at(
                    format!("{key}[{i}].device_name"),
                    "a `device_name` must be specified",
                ));
            }
            if b.kms_key_id.is_some() && b.encrypted != Some(true) {
                errors.push(ConfigError::at(
                    format!("{key}[{i}].kms_key_id"),
                    "`kms_key_id` needs `encrypted: true`",
                ));
            }
            if let Some(t) = &b.volume_type {
                if !["standard", "io1", "io2", "gp2", "gp3", "sc1", "st1"].contains(&t.as_str()) {
                    errors.push(ConfigError::at(
                        format!("{key}[{i}].volume_type"),
                        format!("unknown volume type `{t}`; expected one of `standard`, `io1`, `io2`, `gp2`, `gp3`, `sc1`, `st1`"),
                    ));
                }
            }
            BlockDevice {
                device_name: b.device_name.clone(),
                delete_on_termination: b.delete_on_termination,
                encrypted: b.encrypted,
                iops: b.iops,
                throughput: b.throughput,
                no_device: b.no_device,
                snapshot_id: b.snapshot_id.clone(),
                virtual_name: b.virtual_name.clone(),
                volume_type: b.volume_type.clone(),
                volume_size: b.volume_size,
                kms_key_id: b.kms_key_id.clone(),
            }
        })
        .collect()
}
