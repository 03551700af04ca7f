//! The validated alicloud-ecs configuration the steps will read: one flat
//! [`Config`], gathered from the sections' results. Pure; holds nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kiln_ssh::CommunicatorConfig;

use super::disks::Disk;
use super::image::{ForceDelete, Image, ImageCopy};
use super::internet::{Internet, InternetChargeType, SecurityEnhancement};
use super::network::Network;
use super::run::{Run, StopInstance};
use super::source::{Source, SourceImage};
use super::AccessConfig;

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// Credentials, region, endpoint, validation switches.
    pub access: AccessConfig,
    /// `source_image` / `image_family`.
    pub source_image: SourceImage,
    /// `instance_type`.
    pub instance_type: String,
    /// `zone_id`.
    pub zone_id: Option<String>,
    /// `io_optimized`; `None` leaves it to the API.
    pub io_optimized: Option<bool>,
    /// `instance_name`.
    pub instance_name: Option<String>,
    /// `description` (of the instance).
    pub description: Option<String>,
    /// `user_data`.
    pub user_data: Option<String>,
    /// `user_data_file`.
    pub user_data_file: Option<PathBuf>,
    /// `internet_charge_type`; `None` leaves it to the API
    /// (`PayByBandwidth`).
    pub internet_charge_type: Option<InternetChargeType>,
    /// `internet_max_bandwidth_out` (Mbit/s).
    pub internet_max_bandwidth_out: Option<u32>,
    /// `associate_public_ip_address`.
    pub associate_public_ip_address: bool,
    /// `ssh_private_ip`: connect to the private address; no public one.
    pub ssh_private_ip: bool,
    /// `security_enhancement_strategy`.
    pub security_enhancement_strategy: Option<SecurityEnhancement>,
    /// `disable_stop_instance` / `force_stop_instance`.
    pub stop_instance: StopInstance,
    /// `run_tags`: tags of the instance and what the build creates.
    pub run_tags: BTreeMap<String, String>,
    /// `wait_snapshot_ready_timeout` (seconds; 3600 when unset).
    pub wait_snapshot_ready_timeout: Duration,
    /// `ssh_keypair_name`: an existing key pair.
    pub ssh_keypair_name: Option<String>,
    /// The VPC, vSwitch and security group.
    pub network: Network,
    /// `system_disk_mapping`.
    pub system_disk: Option<Disk>,
    /// `image_disk_mappings`.
    pub data_disks: Vec<Disk>,
    /// `image_name`.
    pub image_name: String,
    /// `image_version`.
    pub image_version: Option<String>,
    /// `image_description`.
    pub image_description: Option<String>,
    /// `image_copy_regions` (deduplicated) with `image_copy_names`.
    pub image_copies: Vec<ImageCopy>,
    /// `image_share_account`.
    pub image_share_accounts: Vec<String>,
    /// `image_unshare_account`.
    pub image_unshare_accounts: Vec<String>,
    /// `image_encrypted`; `None` keeps the source's setting.
    pub image_encrypted: Option<bool>,
    /// `image_force_delete*` and `-force`.
    pub force_delete: ForceDelete,
    /// `image_ignore_data_disks`.
    pub image_ignore_data_disks: bool,
    /// `tags`: of the image and its snapshots.
    pub tags: BTreeMap<String, String>,
    /// `snapshot_tags`: of the image's snapshots.
    pub snapshot_tags: BTreeMap<String, String>,
    /// The communicator.
    pub communicator: CommunicatorConfig,
}

/// Every section's result, for [`Config::gather`].
pub(super) struct Sections {
    pub(super) access: AccessConfig,
    pub(super) source: Source,
    pub(super) run: Run,
    pub(super) internet: Internet,
    pub(super) network: Network,
    pub(super) disks: (Option<Disk>, Vec<Disk>),
    pub(super) image: Image,
}

/// The keys passed through as written.
pub(super) struct Passed {
    pub(super) run_tags: BTreeMap<String, String>,
    pub(super) image_ignore_data_disks: bool,
    pub(super) tags: BTreeMap<String, String>,
    pub(super) snapshot_tags: BTreeMap<String, String>,
}

impl Config {
    /// The flat config of the sections' results.
    pub(super) fn gather(s: Sections, p: Passed, communicator: CommunicatorConfig) -> Config {
        let Sections {
            access,
            source,
            run,
            internet,
            network,
            disks: (system_disk, data_disks),
            image,
        } = s;
        Config {
            access,
            source_image: source.image,
            instance_type: source.instance_type,
            zone_id: source.zone_id,
            io_optimized: source.io_optimized,
            instance_name: source.instance_name,
            description: source.description,
            user_data: run.user_data,
            user_data_file: run.user_data_file,
            internet_charge_type: internet.charge_type,
            internet_max_bandwidth_out: internet.max_bandwidth_out,
            associate_public_ip_address: internet.associate_public_ip_address,
            ssh_private_ip: internet.ssh_private_ip,
            security_enhancement_strategy: internet.security_enhancement_strategy,
            stop_instance: run.stop_instance,
            run_tags: p.run_tags,
            wait_snapshot_ready_timeout: run.wait_snapshot_ready_timeout,
            ssh_keypair_name: run.ssh_keypair_name,
            network,
            system_disk,
            data_disks,
            image_name: image.name,
            image_version: image.version,
            image_description: image.description,
            image_copies: image.copies,
            image_share_accounts: image.share_accounts,
            image_unshare_accounts: image.unshare_accounts,
            image_encrypted: image.encrypted,
            force_delete: image.force_delete,
            image_ignore_data_disks: p.image_ignore_data_disks,
            tags: p.tags,
            snapshot_tags: p.snapshot_tags,
            communicator,
        }
    }
}
