//! The validated amazon-ebs configuration the steps read: one flat
//! [`Config`], gathered from the sections' results and the keys they pass
//! through as written. Pure; holds nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln_sdk::interpolate;
use kiln_ssh::CommunicatorConfig;

use super::{
    AccessConfig, BlockDevice, ExistingAmi, Market, MetadataOptions, PolicyDocument, Polling,
    ShutdownBehavior, SourceAmi, SshInterface, StopInstance, SubnetFilter,
};

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// Credentials, region, endpoint.
    pub access: AccessConfig,
    /// `aws_polling`.
    pub polling: Polling,
    /// `source_ami` / `source_ami_filter`.
    pub source: SourceAmi,
    /// `instance_type`.
    pub instance_type: String,
    /// `ami_name`, interpolated.
    pub ami_name: String,
    /// `ami_description`.
    pub ami_description: Option<String>,
    /// `ami_regions`, without the build region, deduplicated.
    pub ami_regions: Vec<String>,
    /// `ami_users`.
    pub ami_users: Vec<String>,
    /// `ami_groups`.
    pub ami_groups: Vec<String>,
    /// `snapshot_users`.
    pub snapshot_users: Vec<String>,
    /// `snapshot_groups`.
    pub snapshot_groups: Vec<String>,
    /// `region_kms_key_ids`.
    pub region_kms_key_ids: BTreeMap<String, String>,
    /// `tags` (rendered at run time).
    pub tags: BTreeMap<String, String>,
    /// `run_tags`.
    pub run_tags: BTreeMap<String, String>,
    /// `run_volume_tags`.
    pub run_volume_tags: BTreeMap<String, String>,
    /// `snapshot_tags`.
    pub snapshot_tags: BTreeMap<String, String>,
    /// `launch_block_device_mappings`.
    pub launch_block_devices: Vec<BlockDevice>,
    /// `ami_block_device_mappings`.
    pub ami_block_devices: Vec<BlockDevice>,
    /// `encrypt_boot`.
    pub encrypt_boot: Option<bool>,
    /// `kms_key_id`.
    pub kms_key_id: Option<String>,
    /// `force_deregister` / `force_delete_snapshot`.
    pub existing_ami: ExistingAmi,
    /// `skip_create_ami`.
    pub skip_create_ami: bool,
    /// `checkpoint_images` (kiln's own key, default `false`): in a
    /// `kiln build -incremental`, make an AMI of the running instance
    /// after each provisioner (a checkpoint, tagged `kiln:checkpoint`) and
    /// start the next build from the latest one whose inputs are
    /// unchanged. Without it, or without `-incremental`, the build is as
    /// it always was.
    pub checkpoint_images: bool,
    /// `deprecate_at`.
    pub deprecate_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `ena_support`.
    pub ena_support: Option<bool>,
    /// `ami_virtualization_type`: in amazon-ebs only the enhanced
    /// networking check of the source image reads it, as in Packer.
    pub ami_virtualization_type: Option<String>,
    /// `sriov_support`.
    pub sriov_support: bool,
    /// `imds_support` (`v2.0`).
    pub imds_support: Option<String>,
    /// `associate_public_ip_address`.
    pub associate_public_ip_address: bool,
    /// `availability_zone`.
    pub availability_zone: Option<String>,
    /// `subnet_id`.
    pub subnet_id: Option<String>,
    /// `vpc_id`.
    pub vpc_id: Option<String>,
    /// `subnet_filter`.
    pub subnet_filter: Option<SubnetFilter>,
    /// `security_group_ids` (with `security_group_id`).
    pub security_group_ids: Vec<String>,
    /// `temporary_security_group_source_cidrs` (`0.0.0.0/0`).
    pub temporary_sg_cidrs: Vec<String>,
    /// `iam_instance_profile`.
    pub iam_instance_profile: Option<String>,
    /// `user_data`.
    pub user_data: Option<String>,
    /// `user_data_file`.
    pub user_data_file: Option<PathBuf>,
    /// `ssh_keypair_name`.
    pub ssh_keypair_name: Option<String>,
    /// `ssh_interface`.
    pub ssh_interface: SshInterface,
    /// `shutdown_behavior`.
    pub shutdown_behavior: ShutdownBehavior,
    /// `disable_stop_instance`.
    pub stop_instance: StopInstance,
    /// `ebs_optimized`.
    pub ebs_optimized: bool,
    /// `enable_t2_unlimited`.
    pub enable_t2_unlimited: bool,
    /// `spot_price`.
    pub market: Market,
    /// `spot_instance_types` (used instead of `instance_type`).
    pub spot_instance_types: Vec<String>,
    /// `spot_tags`: tags for the spot request and its launch template
    /// (rendered at run time).
    pub spot_tags: BTreeMap<String, String>,
    /// `block_duration_minutes` (0: none).
    pub block_duration_minutes: i32,
    /// `tenancy`.
    pub tenancy: Option<String>,
    /// `vpc_filter.filters` (`vpc_id` wins).
    pub vpc_filter: Option<BTreeMap<String, String>>,
    /// `security_group_filter.filters` (`security_group_ids` win).
    pub security_group_filter: Option<BTreeMap<String, String>>,
    /// `metadata_options`, when given.
    pub metadata_options: Option<MetadataOptions>,
    /// `temporary_iam_instance_profile_policy_document`
    /// (`iam_instance_profile` wins).
    pub temporary_iam_policy: Option<PolicyDocument>,
    /// `skip_profile_validation`: do not check that
    /// `iam_instance_profile` exists.
    pub skip_profile_validation: bool,
    /// `no_ephemeral`: map `xvdca`-`xvdcz` to no device.
    pub no_ephemeral: bool,
    /// The communicator.
    pub communicator: CommunicatorConfig,
    /// For rendering the run-time keys.
    pub interpolation: interpolate::Context,
}

/// What the sections made of their keys.
pub(super) struct Sections {
    pub(super) access: AccessConfig,
    pub(super) polling: Polling,
    pub(super) source: (SourceAmi, String),
    pub(super) image: super::image::Image,
    pub(super) options: super::image_options::ImageOptions,
    pub(super) block_devices: (Vec<BlockDevice>, Vec<BlockDevice>),
    pub(super) network: super::network::Network,
    pub(super) run: super::run::Run,
    pub(super) market: Market,
    pub(super) metadata_options: Option<MetadataOptions>,
    pub(super) temporary_iam_policy: Option<PolicyDocument>,
}

impl Config {
    /// The config of `s`, with the keys the sections pass through as `r`
    /// has them.
    pub(super) fn gather(
        s: Sections,
        r: &super::decode::Raws,
        communicator: CommunicatorConfig,
        interpolation: interpolate::Context,
    ) -> Config {
        let nonempty = |v: &Option<String>| super::nonempty(v.clone());
        let (image, options, network, run) = (s.image, s.options, s.network, s.run);
        Config {
            access: s.access,
            polling: s.polling,
            source: s.source.0,
            instance_type: s.source.1,
            ami_name: image.ami_name,
            ami_description: image.ami_description,
            ami_regions: image.ami_regions,
            ami_users: r.image.ami_users.clone(),
            ami_groups: r.image.ami_groups.clone(),
            snapshot_users: r.image.snapshot_users.clone(),
            snapshot_groups: r.image.snapshot_groups.clone(),
            region_kms_key_ids: r.image.region_kms_key_ids.clone(),
            tags: r.options.tags.clone(),
            run_tags: r.run.run_tags.clone(),
            run_volume_tags: r.run.run_volume_tags.clone(),
            snapshot_tags: r.options.snapshot_tags.clone(),
            launch_block_devices: s.block_devices.0,
            ami_block_devices: s.block_devices.1,
            encrypt_boot: r.image.encrypt_boot,
            kms_key_id: image.kms_key_id,
            existing_ami: options.existing_ami,
            skip_create_ami: r.options.skip_create_ami,
            checkpoint_images: r.options.checkpoint_images,
            deprecate_at: options.deprecate_at,
            ena_support: r.options.ena_support,
            ami_virtualization_type: nonempty(&r.options.ami_virtualization_type),
            sriov_support: r.options.sriov_support,
            imds_support: options.imds_support,
            associate_public_ip_address: network.associate_public_ip_address,
            availability_zone: network.availability_zone,
            subnet_id: network.subnet_id,
            vpc_id: network.vpc_id,
            subnet_filter: network.subnet_filter,
            security_group_ids: network.security_group_ids,
            temporary_sg_cidrs: network.temporary_sg_cidrs,
            iam_instance_profile: nonempty(&r.iam.iam_instance_profile),
            user_data: r.run.user_data.clone(),
            user_data_file: run.user_data_file,
            ssh_keypair_name: nonempty(&r.run.ssh_keypair_name),
            ssh_interface: run.ssh_interface,
            shutdown_behavior: run.shutdown_behavior,
            stop_instance: run.stop_instance,
            ebs_optimized: r.run.ebs_optimized,
            enable_t2_unlimited: r.run.enable_t2_unlimited,
            market: s.market,
            spot_instance_types: r.spot.spot_instance_types.clone(),
            spot_tags: r.spot.spot_tags.clone(),
            block_duration_minutes: r.spot.block_duration_minutes.clamp(0, 360) as i32,
            tenancy: nonempty(&r.run.tenancy),
            vpc_filter: network.vpc_filter,
            security_group_filter: network.security_group_filter,
            metadata_options: s.metadata_options,
            temporary_iam_policy: s.temporary_iam_policy,
            skip_profile_validation: r.iam.skip_profile_validation,
            no_ephemeral: r.block_devices.no_ephemeral,
            communicator,
            interpolation,
        }
    }
}
