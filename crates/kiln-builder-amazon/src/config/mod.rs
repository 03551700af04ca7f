//! The amazon-ebs builder's configuration: Packer 1.6.6's access, AMI,
//! run and block-device keys, decoded with the communicator keys (kiln-ssh)
//! and validated into a typed [`Config`]: enums for `ssh_interface`,
//! `shutdown_behavior`, spot and the source AMI, `Duration`s for polling,
//! parsed timestamps for `deprecate_at`, `Secret`s for the secret key and
//! token, the VPC / security group filters, `metadata_options` and the
//! temporary IAM policy document. Pure: it touches no network; the only
//! file it reads is `user_data_file`'s existence check. Holds no
//! resources.
//!
//! One file per section, each with its own `prepare`, as Packer splits
//! its amazon configuration: `access` (`AccessConfig`), `source` and
//! `network`, `run` and `spot` (`RunConfig`), `image` (`AMIConfig`) and
//! `block_devices` (`BlockDevices`). This module decodes the keys once
//! (`raw`), runs every section, collects all their errors and assembles
//! the flat [`Config`] the steps read.

mod access;
mod block_devices;
mod image;
mod network;
mod raw;
mod run;
mod source;
mod spot;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln_sdk::config::{decode_lenient, ConfigError, ConfigErrors, DecodeOptions, RawConfig};
use kiln_sdk::{interpolate, PrepareContext};
use kiln_ssh::CommunicatorConfig;

pub use access::{
    AccessConfig, AssumeRole, Polling, StaticCredentials, DEFAULT_POLLING, KNOWN_REGIONS,
};
pub use block_devices::BlockDevice;
pub use image::{check_ami_name, ExistingAmi};
pub use network::SubnetFilter;
pub use run::{
    MetadataOptions, PolicyDocument, PolicyStatement, ShutdownBehavior, SshInterface, StopInstance,
};
pub use source::SourceAmi;
pub use spot::Market;

use raw::Raw;

/// Keys whose strings are rendered at run time, when the source AMI and
/// region are known (`{{ .SourceAMIName }}`, `{{ .BuildRegion }}`).
const RUN_TIME_KEYS: &[&str] = &[
    "tags",
    "run_tags",
    "run_volume_tags",
    "snapshot_tags",
    "spot_tags",
];

/// Packer keys kiln recognises but does not implement yet: set, they are
/// an error rather than silently ignored.
const NOT_SUPPORTED: &[(&str, &str)] = &[
    ("spot_price_auto_product", "it is deprecated in Packer too"),
    (
        "vault_aws_engine",
        "export the credentials into the environment",
    ),
    ("mfa_code", "use a profile or `assume_role`"),
    (
        "windows_password_timeout",
        "the winrm communicator is not supported",
    ),
    (
        "ami_product_codes",
        "set product codes with the AWS CLI after the build",
    ),
];

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

fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// Decodes and validates; collects every error.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    // Lenient: unknown keys are reported together with every other error.
    let (r, mut errors) = decode_lenient::<Raw>(
        raw,
        &DecodeOptions {
            interpolate: Some(&cx.interpolation),
            skip_interpolation: RUN_TIME_KEYS,
            extra_fields: kiln_ssh::field_names(),
        },
    );
    let communicator = kiln_ssh::prepare(raw, cx);
    let Some(r) = r else {
        errors
            .0
            .extend(communicator.err().into_iter().flat_map(|e| e.0));
        return Err(errors);
    };
    let communicator = match communicator {
        Ok(c) => c,
        Err(e) => {
            errors.0.extend(e.0);
            CommunicatorConfig::None
        }
    };
    for s in [&r.secret_key, &r.token].into_iter().flatten() {
        if !s.expose().is_empty() {
            cx.redactor.add(s.expose().clone());
        }
    }

    let not_supported: [(&str, &Option<serde_json::Value>); 5] = [
        ("spot_price_auto_product", &r.spot_price_auto_product),
        ("vault_aws_engine", &r.vault_aws_engine),
        ("mfa_code", &r.mfa_code),
        ("windows_password_timeout", &r.windows_password_timeout),
        ("ami_product_codes", &r.ami_product_codes),
    ];
    for (key, value) in not_supported {
        if value.is_some() {
            let hint = NOT_SUPPORTED
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, h)| *h)
                .unwrap_or("");
            let e = ConfigError::at(key, format!("`{key}` is not supported by kiln yet"));
            errors.push(if hint.is_empty() {
                e
            } else {
                e.with_hint(hint)
            });
        }
    }

    let (access, polling) = access::prepare(&r, &mut errors);
    let (source, instance_type) = source::prepare(&r, &mut errors);
    let image = image::prepare(&r, &access.region, &mut errors);
    let (launch_block_devices, ami_block_devices) = block_devices::prepare(&r, &mut errors);
    let network = network::prepare(&r, &mut errors);
    let run = run::prepare(&r, &communicator, &mut errors);

    let config = Config {
        access,
        polling,
        source,
        instance_type,
        ami_name: image.ami_name,
        ami_description: nonempty(r.ami_description.clone()),
        ami_regions: image.ami_regions,
        ami_users: r.ami_users.clone(),
        ami_groups: r.ami_groups.clone(),
        snapshot_users: r.snapshot_users.clone(),
        snapshot_groups: r.snapshot_groups.clone(),
        region_kms_key_ids: r.region_kms_key_ids.clone(),
        tags: r.tags.clone(),
        run_tags: r.run_tags.clone(),
        run_volume_tags: r.run_volume_tags.clone(),
        snapshot_tags: r.snapshot_tags.clone(),
        launch_block_devices,
        ami_block_devices,
        encrypt_boot: r.encrypt_boot,
        kms_key_id: nonempty(r.kms_key_id.clone()),
        existing_ami: image.existing_ami,
        skip_create_ami: r.skip_create_ami,
        deprecate_at: image.deprecate_at,
        ena_support: r.ena_support,
        ami_virtualization_type: nonempty(r.ami_virtualization_type.clone()),
        sriov_support: r.sriov_support,
        imds_support: image.imds_support,
        associate_public_ip_address: network.associate_public_ip_address,
        availability_zone: network.availability_zone,
        subnet_id: network.subnet_id,
        vpc_id: network.vpc_id,
        subnet_filter: network.subnet_filter,
        security_group_ids: network.security_group_ids,
        temporary_sg_cidrs: network.temporary_sg_cidrs,
        iam_instance_profile: nonempty(r.iam_instance_profile.clone()),
        user_data: r.user_data.clone(),
        user_data_file: run.user_data_file,
        ssh_keypair_name: nonempty(r.ssh_keypair_name.clone()),
        ssh_interface: run.ssh_interface,
        shutdown_behavior: run.shutdown_behavior,
        stop_instance: if r.disable_stop_instance {
            StopInstance::ByProvisioner
        } else {
            StopInstance::Api
        },
        ebs_optimized: r.ebs_optimized,
        enable_t2_unlimited: r.enable_t2_unlimited,
        market: run.market,
        spot_instance_types: r.spot_instance_types.clone(),
        spot_tags: r.spot_tags.clone(),
        block_duration_minutes: r.block_duration_minutes.clamp(0, 360) as i32,
        tenancy: nonempty(r.tenancy.clone()),
        vpc_filter: network.vpc_filter,
        security_group_filter: network.security_group_filter,
        metadata_options: run.metadata_options,
        temporary_iam_policy: run.temporary_iam_policy,
        skip_profile_validation: r.skip_profile_validation,
        no_ephemeral: r.no_ephemeral,
        communicator,
        interpolation: cx.interpolation.clone(),
    };
    let _ = (
        r.skip_metadata_api_check,
        r.decode_authorization_messages,
        r.session_manager_port,
    );
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors.locate(raw))
    }
}

/// Why the build cannot start with this configuration, checked before any
/// API call: a feature `validate` accepts but kiln cannot run yet, or no
/// region at all (Packer 1.6.6's `validate` passes without one).
pub fn cannot_start(c: &Config) -> Option<String> {
    if c.access.region.is_empty() {
        return Some(
            "no AWS region: set `region` in the template, or `AWS_REGION` (or `AWS_DEFAULT_REGION`) in the environment".into(),
        );
    }
    if c.ssh_interface == SshInterface::SessionManager {
        return Some(
            "`ssh_interface = \"session_manager\"` is not supported by kiln yet: connect with `public_ip`, `private_ip`, `public_dns` or `private_dns` (through `ssh_bastion_host` if the instance has no reachable address)".into(),
        );
    }
    None
}
