//! The amazon-ebs builder's configuration: Packer 1.6.6's access, AMI,
//! run and block-device keys, decoded with the communicator keys (kiln-ssh)
//! and validated into a typed [`Config`]: enums for `ssh_interface`,
//! `shutdown_behavior`, spot and the source AMI, `Duration`s for polling,
//! parsed timestamps for `deprecate_at`, `Secret`s for the secret key and
//! token, the VPC / security group filters, `metadata_options` and the
//! temporary IAM policy document. Pure: it touches no network; the only
//! file it reads is `user_data_file`'s existence check. Holds no
//! resources.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use kiln_sdk::config::{
    decode_lenient, did_you_mean, ConfigError, ConfigErrors, DecodeOptions, RawConfig,
};
use kiln_sdk::{interpolate, PrepareContext, Secret};
use kiln_ssh::CommunicatorConfig;
use serde::Deserialize;

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

/// The keys exactly as a template writes them (unknown keys are reported
/// by the decoder, with the communicator's keys accepted).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Raw {
    // Access.
    access_key: Option<String>,
    secret_key: Option<Secret<String>>,
    token: Option<Secret<String>>,
    profile: Option<String>,
    region: Option<String>,
    shared_credentials_file: Option<String>,
    #[serde(deserialize_with = "one_block")]
    assume_role: Option<RawAssumeRole>,
    custom_endpoint_ec2: Option<String>,
    skip_region_validation: bool,
    skip_credential_validation: bool,
    skip_metadata_api_check: bool,
    decode_authorization_messages: bool,
    max_retries: Option<u32>,
    #[serde(deserialize_with = "one_block")]
    aws_polling: Option<RawPolling>,
    // Source.
    source_ami: Option<String>,
    #[serde(deserialize_with = "one_block")]
    source_ami_filter: Option<RawAmiFilter>,
    instance_type: Option<String>,
    // AMI.
    ami_name: Option<String>,
    ami_description: Option<String>,
    ami_regions: Vec<String>,
    ami_users: Vec<String>,
    ami_groups: Vec<String>,
    snapshot_users: Vec<String>,
    snapshot_groups: Vec<String>,
    region_kms_key_ids: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
    run_tags: BTreeMap<String, String>,
    run_volume_tags: BTreeMap<String, String>,
    snapshot_tags: BTreeMap<String, String>,
    launch_block_device_mappings: Vec<RawBlockDevice>,
    ami_block_device_mappings: Vec<RawBlockDevice>,
    encrypt_boot: Option<bool>,
    kms_key_id: Option<String>,
    force_deregister: bool,
    force_delete_snapshot: bool,
    skip_create_ami: bool,
    deprecate_at: Option<String>,
    ena_support: Option<bool>,
    sriov_support: bool,
    imds_support: Option<String>,
    // Run.
    associate_public_ip_address: bool,
    availability_zone: Option<String>,
    subnet_id: Option<String>,
    vpc_id: Option<String>,
    #[serde(deserialize_with = "one_block")]
    subnet_filter: Option<RawSubnetFilter>,
    security_group_id: Option<String>,
    security_group_ids: Vec<String>,
    temporary_security_group_source_cidrs: Vec<String>,
    iam_instance_profile: Option<String>,
    skip_profile_validation: bool,
    user_data: Option<String>,
    user_data_file: Option<String>,
    ssh_keypair_name: Option<String>,
    ssh_interface: Option<String>,
    shutdown_behavior: Option<String>,
    disable_stop_instance: bool,
    ebs_optimized: bool,
    enable_t2_unlimited: bool,
    spot_price: Option<String>,
    spot_instance_types: Vec<String>,
    spot_tags: BTreeMap<String, String>,
    block_duration_minutes: i64,
    tenancy: Option<String>,
    #[serde(deserialize_with = "one_block")]
    vpc_filter: Option<RawFilter>,
    #[serde(deserialize_with = "one_block")]
    security_group_filter: Option<RawFilter>,
    #[serde(deserialize_with = "one_block")]
    metadata_options: Option<RawMetadataOptions>,
    #[serde(deserialize_with = "one_block")]
    temporary_iam_instance_profile_policy_document: Option<RawPolicyDocument>,
    no_ephemeral: bool,
    insecure_skip_tls_verify: bool,
    // Recognised, not supported (see NOT_SUPPORTED).
    spot_price_auto_product: Option<serde_json::Value>,
    vault_aws_engine: Option<serde_json::Value>,
    mfa_code: Option<serde_json::Value>,
    windows_password_timeout: Option<serde_json::Value>,
    ami_product_codes: Option<serde_json::Value>,
    // Accepted; the build fails until the session manager is implemented.
    session_manager_port: Option<u16>,
    ami_virtualization_type: Option<String>,
}

/// An object-valued key: a JSON object, or in HCL2 one block (which the
/// HCL2 decoder hands over as a one-element list of objects). The inner
/// values keep the weak typing.
fn one_block<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct OneBlock<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for OneBlock<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object (one block)")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<T>()?;
            if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                return Err(serde::de::Error::custom("only one block is allowed here"));
            }
            Ok(first)
        }
    }
    d.deserialize_any(OneBlock(std::marker::PhantomData))
}

/// `vpc_filter`, `security_group_filter`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawFilter {
    filters: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawMetadataOptions {
    http_endpoint: Option<String>,
    http_tokens: Option<String>,
    http_put_response_hop_limit: Option<i64>,
    instance_metadata_tags: Option<String>,
}

/// Packer decodes these keys case-insensitively; HCL2 spells them
/// `Version`, `Statement`, `Effect`, `Action`, `Resource`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawPolicyDocument {
    #[serde(rename = "Version", alias = "version")]
    version: Option<String>,
    #[serde(rename = "Statement", alias = "statement")]
    statement: Vec<RawStatement>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawStatement {
    #[serde(rename = "Effect", alias = "effect")]
    effect: String,
    #[serde(rename = "Action", alias = "action")]
    action: OneOrMany,
    #[serde(rename = "Resource", alias = "resource")]
    resource: OneOrMany,
}

/// A list of strings, or one string (Packer's weak decoding).
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl Default for OneOrMany {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

impl OneOrMany {
    fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, default)]
struct RawAssumeRole {
    role_arn: String,
    session_name: Option<String>,
    external_id: Option<String>,
    duration_seconds: Option<u32>,
    policy: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawPolling {
    delay_seconds: Option<u64>,
    max_attempts: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawAmiFilter {
    filters: BTreeMap<String, String>,
    owners: Vec<String>,
    most_recent: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawSubnetFilter {
    filters: BTreeMap<String, String>,
    most_free: bool,
    random: bool,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, default)]
struct RawBlockDevice {
    device_name: String,
    delete_on_termination: bool,
    encrypted: Option<bool>,
    iops: Option<i32>,
    throughput: Option<i32>,
    no_device: bool,
    snapshot_id: Option<String>,
    virtual_name: Option<String>,
    volume_type: Option<String>,
    volume_size: Option<i32>,
    kms_key_id: Option<String>,
}

/// Explicit credentials from the template (`access_key`, `secret_key`,
/// `token`).
#[derive(Debug, Clone)]
pub struct StaticCredentials {
    /// `access_key`.
    pub access_key: String,
    /// `secret_key`.
    pub secret_key: Secret<String>,
    /// `token`.
    pub token: Option<Secret<String>>,
}

/// `assume_role`.
#[derive(Debug, Clone)]
pub struct AssumeRole {
    /// `role_arn`.
    pub role_arn: String,
    /// `session_name` (a generated one otherwise).
    pub session_name: Option<String>,
    /// `external_id`.
    pub external_id: Option<String>,
    /// `duration_seconds`.
    pub duration: Option<Duration>,
    /// `policy`.
    pub policy: Option<String>,
}

/// How to reach EC2 and as whom.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    /// `region`.
    pub region: String,
    /// Template credentials; `None` uses the standard chain.
    pub credentials: Option<StaticCredentials>,
    /// `profile`.
    pub profile: Option<String>,
    /// `shared_credentials_file`.
    pub shared_credentials_file: Option<PathBuf>,
    /// `assume_role`.
    pub assume_role: Option<AssumeRole>,
    /// `custom_endpoint_ec2`.
    pub endpoint: Option<String>,
    /// `max_retries` (attempts per call when throttled).
    pub max_attempts: u32,
    /// `skip_credential_validation`: do not resolve credentials up front.
    pub skip_credential_validation: bool,
    /// `insecure_skip_tls_verify`: accept any TLS certificate from the
    /// endpoints (EC2, IAM, STS).
    pub insecure_skip_tls_verify: bool,
}

/// `aws_polling`: how waiters poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    /// `delay_seconds`.
    pub delay: Duration,
    /// `max_attempts`.
    pub max_attempts: u32,
}

/// Where the source AMI comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAmi {
    /// `source_ami`.
    pub id: Option<String>,
    /// `source_ami_filter.filters`.
    pub filters: BTreeMap<String, String>,
    /// `source_ami_filter.owners`.
    pub owners: Vec<String>,
    /// `source_ami_filter.most_recent`.
    pub most_recent: bool,
}

/// `subnet_filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetFilter {
    /// `filters`.
    pub filters: BTreeMap<String, String>,
    /// `most_free`: the subnet with the most free addresses.
    pub most_free: bool,
    /// `random`: any of them.
    pub random: bool,
}

/// `metadata_options`: the instance metadata service settings of the
/// build instance, with Packer's defaults for keys not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataOptions {
    /// `http_endpoint`: `enabled` (default) or `disabled`.
    pub http_endpoint: String,
    /// `http_tokens`: `optional` (default) or `required` (IMDSv2 only).
    pub http_tokens: String,
    /// `http_put_response_hop_limit`: 1 (default) to 64.
    pub http_put_response_hop_limit: i32,
    /// `instance_metadata_tags`: `disabled` (default) or `enabled`.
    pub instance_metadata_tags: String,
}

/// One statement of `temporary_iam_instance_profile_policy_document`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyStatement {
    /// `Effect` (`Allow`, `Deny`).
    #[serde(rename = "Effect")]
    pub effect: String,
    /// `Action`.
    #[serde(rename = "Action")]
    pub action: Vec<String>,
    /// `Resource`.
    #[serde(rename = "Resource")]
    pub resource: Vec<String>,
}

/// `temporary_iam_instance_profile_policy_document`: the inline policy of
/// the temporary role. Serialises to the JSON IAM expects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyDocument {
    /// `Version` (omitted when not given).
    #[serde(rename = "Version", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `Statement`.
    #[serde(rename = "Statement")]
    pub statement: Vec<PolicyStatement>,
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

/// `ssh_interface`: which instance address the communicator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshInterface {
    /// Packer's default choice (public IP in a VPC, else public DNS,
    /// falling back to the private IP).
    Default,
    /// `public_ip`.
    PublicIp,
    /// `private_ip`.
    PrivateIp,
    /// `public_dns`.
    PublicDns,
    /// `private_dns`.
    PrivateDns,
    /// `session_manager`: SSH through an SSM port forward. Accepted by
    /// `validate`, as in Packer; the build fails before any API call until
    /// kiln implements it.
    SessionManager,
}

/// `shutdown_behavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownBehavior {
    /// `stop` (the default).
    Stop,
    /// `terminate`.
    Terminate,
}

impl ShutdownBehavior {
    /// The EC2 spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ShutdownBehavior::Stop => "stop",
            ShutdownBehavior::Terminate => "terminate",
        }
    }
}

/// `spot_price`: on-demand or a spot instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Market {
    /// No `spot_price`: an on-demand instance.
    OnDemand,
    /// `spot_price: auto`: a spot instance at the current price.
    SpotAuto,
    /// `spot_price: "0.05"`: a spot instance with this maximum price.
    SpotMax(String),
}

/// Whether the instance is stopped before the image is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopInstance {
    /// Stop it through the API (the default).
    Api,
    /// `disable_stop_instance`: a provisioner stops it; only wait.
    ByProvisioner,
}

/// What happens to an AMI that already has `ami_name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingAmi {
    /// Fail in pre-validation (the default).
    Fail,
    /// `force_deregister`: deregister it, keeping its snapshots.
    Deregister,
    /// `force_deregister` + `force_delete_snapshot`.
    DeregisterAndDeleteSnapshots,
}

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

/// The regions EC2 knows (for `region` / `ami_regions` validation, as in
/// Packer; `skip_region_validation` turns it off).
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Packer's default `aws_polling`: the SDK waiters' 15 s, 40 attempts.
pub const DEFAULT_POLLING: Polling = Polling {
    delay: Duration::from_secs(15),
    max_attempts: 40,
};

fn check_region(key: &str, region: &str, skip: bool, errors: &mut ConfigErrors) {
    if skip || KNOWN_REGIONS.contains(&region) {
        return;
    }
    let mut e = ConfigError::at(key, format!("unknown region `{region}`"));
    e = match did_you_mean(region, KNOWN_REGIONS.iter().copied()) {
        Some(s) => e.with_hint(format!(
            "did you mean `{s}`? (or set `skip_region_validation`)"
        )),
        None => e.with_hint("set `skip_region_validation` for regions kiln does not know yet"),
    };
    errors.push(e);
}

/// Packer's rule for AMI names: 3 to 128 characters of
/// `[A-Za-z0-9()[] ./\-'@_]`.
pub fn check_ami_name(name: &str) -> Option<String> {
    if name.len() < 3 || name.len() > 128 {
        return Some(format!(
            "`ami_name` must be between 3 and 128 characters long, `{name}` has {}",
            name.len()
        ));
    }
    let bad: String = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || "()[] ./-'@_".contains(*c)))
        .collect();
    if !bad.is_empty() {
        return Some(format!(
            "`ami_name` `{name}` contains characters EC2 does not allow (`{bad}`); only letters, digits, parentheses, square brackets, spaces, periods, slashes, dashes, single quotes, at-signs and underscores"
        ));
    }
    None
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

    // Access. Packer 1.6.6 validates a template without a region (the
    // SDK may find one when the build starts); kiln's build fails at once
    // when there is none ([`cannot_start`]).
    let region = nonempty(r.region.clone())
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|s| !s.is_empty()))
        .or_else(|| {
            std::env::var("AWS_DEFAULT_REGION")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_default();
    if !region.is_empty() {
        check_region("region", &region, r.skip_region_validation, &mut errors);
    }
    let access_key = nonempty(r.access_key.clone());
    let secret_key = r.secret_key.clone().filter(|s| !s.expose().is_empty());
    let credentials = match (access_key, secret_key) {
        (Some(access_key), Some(secret_key)) => Some(StaticCredentials {
            access_key,
            secret_key,
            token: r.token.clone().filter(|s| !s.expose().is_empty()),
        }),
        (None, None) => None,
        (Some(_), None) => {
            errors.push(ConfigError::at(
                "secret_key",
                "`access_key` is set but `secret_key` is not: give both or neither",
            ));
            None
        }
        (None, Some(_)) => {
            errors.push(ConfigError::at(
                "access_key",
                "`secret_key` is set but `access_key` is not: give both or neither",
            ));
            None
        }
    };
    let endpoint = nonempty(r.custom_endpoint_ec2.clone()).map(|e| {
        if e.contains("://") {
            e
        } else {
            format!("https://{e}")
        }
    });
    if let Some(e) = &endpoint {
        match e.split_once("://") {
            Some(("http" | "https", host)) if !host.is_empty() => {}
            _ => errors.push(ConfigError::at(
                "custom_endpoint_ec2",
                format!("`{e}` is not an http or https URL"),
            )),
        }
    }
    let assume_role = r.assume_role.as_ref().map(|a| {
        if a.role_arn.is_empty() {
            errors.push(ConfigError::at(
                "assume_role.role_arn",
                "`assume_role` needs a `role_arn`",
            ));
        }
        AssumeRole {
            role_arn: a.role_arn.clone(),
            session_name: nonempty(a.session_name.clone()),
            external_id: nonempty(a.external_id.clone()),
            duration: a.duration_seconds.map(|s| Duration::from_secs(s.into())),
            policy: nonempty(a.policy.clone()),
        }
    });
    let access = AccessConfig {
        region: region.clone(),
        credentials,
        profile: nonempty(r.profile.clone()),
        shared_credentials_file: nonempty(r.shared_credentials_file.clone()).map(PathBuf::from),
        assume_role,
        endpoint,
        max_attempts: r.max_retries.map(|n| n.max(1)).unwrap_or(3),
        skip_credential_validation: r.skip_credential_validation,
        insecure_skip_tls_verify: r.insecure_skip_tls_verify,
    };

    let polling = match &r.aws_polling {
        None => DEFAULT_POLLING,
        Some(p) => {
            if p.max_attempts == Some(0) {
                errors.push(ConfigError::at(
                    "aws_polling.max_attempts",
                    "`max_attempts` must be at least 1",
                ));
            }
            Polling {
                delay: p
                    .delay_seconds
                    .map(Duration::from_secs)
                    .unwrap_or(DEFAULT_POLLING.delay),
                max_attempts: p
                    .max_attempts
                    .unwrap_or(DEFAULT_POLLING.max_attempts)
                    .max(1),
            }
        }
    };
    // Packer honours the SDK's environment overrides too.
    let polling = Polling {
        delay: std::env::var("AWS_POLL_DELAY_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|_| {
                r.aws_polling
                    .as_ref()
                    .and_then(|p| p.delay_seconds)
                    .is_none()
            })
            .map(Duration::from_secs)
            .unwrap_or(polling.delay),
        max_attempts: std::env::var("AWS_MAX_ATTEMPTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|_| {
                r.aws_polling
                    .as_ref()
                    .and_then(|p| p.max_attempts)
                    .is_none()
            })
            .unwrap_or(polling.max_attempts),
    };

    // Source.
    let source = SourceAmi {
        id: nonempty(r.source_ami.clone()),
        filters: r
            .source_ami_filter
            .as_ref()
            .map(|f| f.filters.clone())
            .unwrap_or_default(),
        owners: r
            .source_ami_filter
            .as_ref()
            .map(|f| f.owners.clone())
            .unwrap_or_default(),
        most_recent: r.source_ami_filter.as_ref().is_some_and(|f| f.most_recent),
    };
    if source.id.is_none() && r.source_ami_filter.is_none() {
        errors.push(ConfigError::at(
            "source_ami",
            "a `source_ami` or `source_ami_filter` must be specified",
        ));
    }
    if let Some(f) = &r.source_ami_filter {
        if f.owners.is_empty() {
            errors.push(
                ConfigError::at(
                    "source_ami_filter.owners",
                    "for security reasons, `source_ami_filter` needs `owners`",
                )
                .with_hint("name the account ids or aliases (`amazon`, `self`) that may own the source image"),
            );
        }
    }
    let instance_type = r.instance_type.clone().unwrap_or_default();
    match (instance_type.is_empty(), r.spot_instance_types.is_empty()) {
        (true, true) => errors.push(ConfigError::at(
            "instance_type",
            "an `instance_type` must be specified",
        )),
        (false, false) => errors.push(ConfigError::at(
            "spot_instance_types",
            "either `instance_type` or `spot_instance_types` must be specified, not both",
        )),
        _ => {}
    }

    // AMI.
    let ami_name = r.ami_name.clone().unwrap_or_default();
    if ami_name.is_empty() {
        errors.push(ConfigError::at(
            "ami_name",
            "an `ami_name` must be specified",
        ));
    } else if let Some(m) = check_ami_name(&ami_name) {
        errors.push(
            ConfigError::at("ami_name", m)
                .with_hint("the `clean_resource_name` function makes a name valid: `{{timestamp | clean_resource_name}}`"),
        );
    }
    if let Some(d) = &r.ami_description {
        if d.len() > 255 {
            errors.push(ConfigError::at(
                "ami_description",
                format!(
                    "`ami_description` may be 255 characters at most, found {}",
                    d.len()
                ),
            ));
        }
    }
    let mut ami_regions: Vec<String> = Vec::new();
    for (i, reg) in r.ami_regions.iter().enumerate() {
        check_region(
            &format!("ami_regions[{i}]"),
            reg,
            r.skip_region_validation,
            &mut errors,
        );
        if *reg != region && !ami_regions.contains(reg) {
            ami_regions.push(reg.clone());
        }
    }
    for reg in r.region_kms_key_ids.keys() {
        if !r.ami_regions.contains(reg) && *reg != region {
            errors.push(ConfigError::at(
                format!("region_kms_key_ids.{reg}"),
                format!(
                    "region `{reg}` has a key in `region_kms_key_ids` but is not in `ami_regions`"
                ),
            ));
        }
    }
    if r.kms_key_id.as_deref().is_some_and(|k| !k.is_empty()) && r.encrypt_boot != Some(true) {
        errors.push(ConfigError::at(
            "kms_key_id",
            "`kms_key_id` needs `encrypt_boot: true`",
        ));
    }
    if r.encrypt_boot == Some(true) && (!r.ami_users.is_empty() || !r.ami_groups.is_empty()) {
        // Packer allows it (the users need the key too); warn-level in
        // Packer, so nothing to do here.
    }
    for (key, tags) in [
        ("tags", &r.tags),
        ("run_tags", &r.run_tags),
        ("run_volume_tags", &r.run_volume_tags),
        ("snapshot_tags", &r.snapshot_tags),
    ] {
        for (k, v) in tags {
            for s in [k, v] {
                if let Err(e) = interpolate::check_syntax(s) {
                    errors.push(ConfigError::at(format!("{key}.{k}"), e.to_string()));
                }
            }
        }
    }
    let deprecate_at = nonempty(r.deprecate_at.clone()).and_then(|d| {
        match chrono::DateTime::parse_from_rfc3339(&d) {
            Ok(t) => Some(t.with_timezone(&chrono::Utc)),
            Err(e) => {
                errors.push(ConfigError::at(
                    "deprecate_at",
                    format!("`{d}` is not an RFC 3339 time like `2030-01-02T15:04:05Z`: {e}"),
                ));
                None
            }
        }
    });
    let imds_support = nonempty(r.imds_support.clone());
    if let Some(v) = &imds_support {
        if v != "v2.0" {
            errors.push(ConfigError::at(
                "imds_support",
                format!("`imds_support` must be `v2.0`, found `{v}`"),
            ));
        }
    }
    let existing_ami = match (r.force_deregister, r.force_delete_snapshot) {
        (false, false) => ExistingAmi::Fail,
        (true, false) => ExistingAmi::Deregister,
        (true, true) => ExistingAmi::DeregisterAndDeleteSnapshots,
        (false, true) => {
            errors.push(ConfigError::at(
                "force_delete_snapshot",
                "`force_delete_snapshot` needs `force_deregister: true`",
            ));
            ExistingAmi::Fail
        }
    };
    let launch_block_devices = block_devices(
        "launch_block_device_mappings",
        &r.launch_block_device_mappings,
        &mut errors,
    );
    let ami_block_devices = block_devices(
        "ami_block_device_mappings",
        &r.ami_block_device_mappings,
        &mut errors,
    );

    // Run.
    if r.subnet_filter.is_some() && nonempty(r.subnet_id.clone()).is_some() {
        errors.push(ConfigError::at(
            "subnet_filter",
            "only one of `subnet_id` and `subnet_filter` may be given",
        ));
    }
    let subnet_filter = r.subnet_filter.as_ref().map(|f| {
        if f.filters.is_empty() {
            errors.push(ConfigError::at(
                "subnet_filter.filters",
                "`subnet_filter` needs `filters`",
            ));
        }
        SubnetFilter {
            filters: f.filters.clone(),
            most_free: f.most_free,
            random: f.random,
        }
    });
    let mut security_group_ids = r.security_group_ids.clone();
    if let Some(id) = nonempty(r.security_group_id.clone()) {
        if !security_group_ids.contains(&id) {
            security_group_ids.insert(0, id);
        }
    }
    let temporary_sg_cidrs = if r.temporary_security_group_source_cidrs.is_empty() {
        vec!["0.0.0.0/0".to_string()]
    } else {
        r.temporary_security_group_source_cidrs.clone()
    };
    for (i, c) in temporary_sg_cidrs.iter().enumerate() {
        if !is_cidr(c) {
            errors.push(ConfigError::at(
                format!("temporary_security_group_source_cidrs[{i}]"),
                format!("`{c}` is not a CIDR block like `10.0.0.0/8`"),
            ));
        }
    }
    if nonempty(r.user_data.clone()).is_some() && nonempty(r.user_data_file.clone()).is_some() {
        errors.push(ConfigError::at(
            "user_data_file",
            "only one of `user_data` and `user_data_file` may be given",
        ));
    }
    let user_data_file = nonempty(r.user_data_file.clone()).map(PathBuf::from);
    if let Some(f) = &user_data_file {
        if !f.is_file() {
            errors.push(ConfigError::at(
                "user_data_file",
                format!("user data file `{}` does not exist", f.display()),
            ));
        }
    }
    let ssh_interface = match r.ssh_interface.as_deref().unwrap_or("") {
        "" => SshInterface::Default,
        "public_ip" => SshInterface::PublicIp,
        "private_ip" => SshInterface::PrivateIp,
        "public_dns" => SshInterface::PublicDns,
        "private_dns" => SshInterface::PrivateDns,
        "session_manager" => {
            // Packer 1.6.6's RunConfig rule.
            if nonempty(r.iam_instance_profile.clone()).is_none()
                && r.temporary_iam_instance_profile_policy_document.is_none()
            {
                errors.push(ConfigError::at(
                    "ssh_interface",
                    "no `iam_instance_profile` defined; `session_manager` connectivity requires a valid instance profile with AmazonSSMManagedInstanceCore permissions",
                ).with_hint("or give a `temporary_iam_instance_profile_policy_document`"));
            }
            SshInterface::SessionManager
        }
        other => {
            let names = [
                "public_ip",
                "private_ip",
                "public_dns",
                "private_dns",
                "session_manager",
            ];
            let mut e = ConfigError::at(
                "ssh_interface",
                format!("unknown `ssh_interface` `{other}`; expected `public_ip`, `private_ip`, `public_dns`, `private_dns` or `session_manager`"),
            );
            if let Some(s) = did_you_mean(other, names) {
                e = e.with_hint(format!("did you mean `{s}`?"));
            }
            errors.push(e);
            SshInterface::Default
        }
    };
    let shutdown_behavior = match r.shutdown_behavior.as_deref().unwrap_or("") {
        "" | "stop" => ShutdownBehavior::Stop,
        "terminate" => ShutdownBehavior::Terminate,
        other => {
            errors.push(ConfigError::at(
                "shutdown_behavior",
                format!("`shutdown_behavior` must be `stop` or `terminate`, found `{other}`"),
            ));
            ShutdownBehavior::Stop
        }
    };
    // Packer: an empty price or `0` means on demand.
    let market = match r.spot_price.as_deref().unwrap_or("") {
        "" | "0" => Market::OnDemand,
        "auto" => Market::SpotAuto,
        p => {
            if p.parse::<f64>().map_or(true, |v| v <= 0.0) {
                errors.push(ConfigError::at(
                    "spot_price",
                    format!(
                        "`spot_price` must be `auto` or a positive price like `0.05`, found `{p}`"
                    ),
                ));
            }
            Market::SpotMax(p.to_string())
        }
    };
    if market != Market::OnDemand && shutdown_behavior == ShutdownBehavior::Terminate {
        errors.push(ConfigError::at(
            "shutdown_behavior",
            "`shutdown_behavior: terminate` cannot be combined with `spot_price`",
        ));
    }
    if market == Market::OnDemand {
        if !r.spot_instance_types.is_empty() {
            errors.push(ConfigError::at(
                "spot_instance_types",
                "`spot_instance_types` needs `spot_price`: they choose the type of a spot instance",
            ).with_hint("set `spot_price` to `auto` or a maximum price, or give `instance_type`"));
        }
        if !r.spot_tags.is_empty() {
            errors.push(ConfigError::at(
                "spot_tags",
                "`spot_tags` should not be set when not requesting a spot instance (`spot_price`)",
            ));
        }
    } else if r.ena_support == Some(true) || r.sriov_support {
        errors.push(ConfigError::at(
            "spot_price",
            "spot instances do not support modification, which `ena_support` and `sriov_support` need",
        ).with_hint("use a source AMI that already has SR-IOV or ENA enabled"));
    }
    for (i, t) in r.spot_instance_types.iter().enumerate() {
        if t.is_empty() {
            errors.push(ConfigError::at(
                format!("spot_instance_types[{i}]"),
                "an instance type must not be empty",
            ));
        }
    }
    if r.block_duration_minutes % 60 != 0 || !(0..=360).contains(&r.block_duration_minutes) {
        errors.push(ConfigError::at(
            "block_duration_minutes",
            format!(
                "`block_duration_minutes` must be a multiple of 60 up to 360, found `{}`",
                r.block_duration_minutes
            ),
        ));
    }
    for (k, v) in &r.spot_tags {
        for s in [k, v] {
            if let Err(e) = interpolate::check_syntax(s) {
                errors.push(ConfigError::at(format!("spot_tags.{k}"), e.to_string()));
            }
        }
    }
    let metadata_options = r.metadata_options.as_ref().map(|m| {
        let mut pick = |key: &str, v: &Option<String>, default: &str, allowed: [&str; 2]| {
            let v = nonempty(v.clone()).unwrap_or_else(|| default.to_string());
            if !allowed.contains(&v.as_str()) {
                errors.push(ConfigError::at(
                    format!("metadata_options.{key}"),
                    format!(
                        "`{key}` must be `{}` or `{}`, found `{v}`",
                        allowed[0], allowed[1]
                    ),
                ));
            }
            v
        };
        let http_endpoint = pick(
            "http_endpoint",
            &m.http_endpoint,
            "enabled",
            ["enabled", "disabled"],
        );
        let http_tokens = pick(
            "http_tokens",
            &m.http_tokens,
            "optional",
            ["optional", "required"],
        );
        let instance_metadata_tags = pick(
            "instance_metadata_tags",
            &m.instance_metadata_tags,
            "disabled",
            ["enabled", "disabled"],
        );
        let hops = match m.http_put_response_hop_limit {
            None | Some(0) => 1,
            Some(n) => n,
        };
        if !(1..=64).contains(&hops) {
            errors.push(ConfigError::at(
                "metadata_options.http_put_response_hop_limit",
                format!("`http_put_response_hop_limit` must be between 1 and 64, found `{hops}`"),
            ));
        }
        MetadataOptions {
            http_endpoint,
            http_tokens,
            http_put_response_hop_limit: hops.clamp(1, 64) as i32,
            instance_metadata_tags,
        }
    });
    let temporary_iam_policy = r
        .temporary_iam_instance_profile_policy_document
        .as_ref()
        .map(|d| PolicyDocument {
            version: nonempty(d.version.clone()),
            statement: d
                .statement
                .iter()
                .map(|s| PolicyStatement {
                    effect: s.effect.clone(),
                    action: s.action.to_vec(),
                    resource: s.resource.to_vec(),
                })
                .collect(),
        });
    if let Some(d) = &temporary_iam_policy {
        if d.statement.is_empty() {
            errors.push(ConfigError::at(
                "temporary_iam_instance_profile_policy_document.Statement",
                "the policy document needs at least one `Statement`",
            ));
        }
    }
    let filter = |f: &Option<RawFilter>| {
        f.as_ref()
            .map(|f| f.filters.clone())
            .filter(|f| !f.is_empty())
    };
    if let Some(t) = nonempty(r.tenancy.clone()) {
        if !["default", "dedicated", "host"].contains(&t.as_str()) {
            errors.push(ConfigError::at(
                "tenancy",
                format!("`tenancy` must be `default`, `dedicated` or `host`, found `{t}`"),
            ));
        }
    }
    if let CommunicatorConfig::Ssh(c) = &communicator {
        let keypair = nonempty(r.ssh_keypair_name.clone());
        if keypair.is_some() && c.credentials.private_key.is_none() && !c.credentials.agent {
            errors.push(ConfigError::at(
                "ssh_private_key_file",
                "`ssh_keypair_name` needs `ssh_private_key_file` or `ssh_agent_auth`: kiln cannot log in with a key pair whose private key it does not have",
            ));
        }
    }

    let config = Config {
        access,
        polling,
        source,
        instance_type,
        ami_name,
        ami_description: nonempty(r.ami_description.clone()),
        ami_regions,
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
        existing_ami,
        skip_create_ami: r.skip_create_ami,
        deprecate_at,
        ena_support: r.ena_support,
        ami_virtualization_type: nonempty(r.ami_virtualization_type.clone()),
        sriov_support: r.sriov_support,
        imds_support,
        associate_public_ip_address: r.associate_public_ip_address,
        availability_zone: nonempty(r.availability_zone.clone()),
        subnet_id: nonempty(r.subnet_id.clone()),
        vpc_id: nonempty(r.vpc_id.clone()),
        subnet_filter,
        security_group_ids,
        temporary_sg_cidrs,
        iam_instance_profile: nonempty(r.iam_instance_profile.clone()),
        user_data: r.user_data.clone(),
        user_data_file,
        ssh_keypair_name: nonempty(r.ssh_keypair_name.clone()),
        ssh_interface,
        shutdown_behavior,
        stop_instance: if r.disable_stop_instance {
            StopInstance::ByProvisioner
        } else {
            StopInstance::Api
        },
        ebs_optimized: r.ebs_optimized,
        enable_t2_unlimited: r.enable_t2_unlimited,
        market,
        spot_instance_types: r.spot_instance_types.clone(),
        spot_tags: r.spot_tags.clone(),
        block_duration_minutes: r.block_duration_minutes.clamp(0, 360) as i32,
        tenancy: nonempty(r.tenancy.clone()),
        vpc_filter: filter(&r.vpc_filter),
        security_group_filter: filter(&r.security_group_filter),
        metadata_options,
        temporary_iam_policy,
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

fn is_cidr(s: &str) -> bool {
    let Some((addr, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cx() -> PrepareContext {
        PrepareContext {
            build_name: "amazon-ebs".into(),
            builder_type: "amazon-ebs".into(),
            interpolation: Default::default(),
            redactor: Default::default(),
            debug: false,
            force: false,
            on_error: Default::default(),
            template_dir: ".".into(),
        }
    }

    #[test]
    fn reports_every_error_at_once() {
        let raw = RawConfig::from_value(json!({
            "region": "us-est-1",
            "ami_name": "x",
            "source_ami_filter": {"filters": {"name": "debian-*"}},
            "ssh_interface": "public_dsn",
            "spot_price": "cheap",
            "force_delete_snapshot": true,
            "mfa_code": "123456",
            "access_key": "AKIA",
            "aws_poling": {},
            "communicator": "none"
        }));
        let e = prepare(&raw, &cx()).unwrap_err().to_string();
        for want in [
            "unknown region `us-est-1`",
            "did you mean `us-east-1`?",
            "`ami_name` must be between 3 and 128 characters",
            "needs `owners`",
            "`instance_type`: an `instance_type` must be specified",
            "did you mean `public_dns`?",
            "`spot_price` must be `auto` or a positive price",
            "`force_delete_snapshot` needs `force_deregister: true`",
            "`mfa_code` is not supported by kiln yet",
            "`access_key` is set but `secret_key` is not",
            "unknown configuration key `aws_poling`",
            "did you mean `aws_polling`?",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
    }

    #[test]
    fn secrets_are_registered_and_never_debug_printed() {
        let c = cx();
        let raw = RawConfig::from_value(json!({
            "region": "us-east-1",
            "ami_name": "kiln {{timestamp}}",
            "source_ami": "ami-123",
            "instance_type": "t3.micro",
            "access_key": "AKIAEXAMPLE",
            "secret_key": "very-secret-key-value",
            "token": "session-token-value",
            "communicator": "none"
        }));
        let cfg = prepare(&raw, &c).unwrap();
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("very-secret-key-value"), "{dbg}");
        assert!(!dbg.contains("session-token-value"), "{dbg}");
        assert_eq!(
            c.redactor.redact("x very-secret-key-value y"),
            "x <sensitive> y"
        );
        assert!(cfg.ami_name.starts_with("kiln "), "{}", cfg.ami_name);
        assert!(cfg.ami_name[5..].parse::<u64>().is_ok(), "{}", cfg.ami_name);
    }

    fn base() -> serde_json::Value {
        json!({
            "region": "us-east-1",
            "ami_name": "kiln test",
            "source_ami": "ami-123",
            "communicator": "none"
        })
    }

    fn with(extra: serde_json::Value) -> serde_json::Value {
        let mut v = base();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn spot_and_metadata_rules() {
        let raw = RawConfig::from_value(with(json!({
            "spot_instance_types": ["t3.small"],
            "spot_tags": {"a": "b"},
            "block_duration_minutes": 45,
            "metadata_options": {"http_tokens": "always", "http_put_response_hop_limit": 65, "http_endpoint": "off"}
        })));
        let e = prepare(&raw, &cx()).unwrap_err().to_string();
        for want in [
            "`spot_instance_types` needs `spot_price`",
            "`spot_tags` should not be set when not requesting a spot instance",
            "`block_duration_minutes` must be a multiple of 60 up to 360, found `45`",
            "`http_tokens` must be `optional` or `required`, found `always`",
            "`http_endpoint` must be `enabled` or `disabled`, found `off`",
            "`http_put_response_hop_limit` must be between 1 and 64, found `65`",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
        assert!(!e.contains("an `instance_type` must be specified"), "{e}");

        let raw = RawConfig::from_value(with(json!({
            "instance_type": "t3.micro", "spot_instance_types": ["t3.small"],
            "spot_price": "auto", "ena_support": true
        })));
        let e = prepare(&raw, &cx()).unwrap_err().to_string();
        assert!(
            e.contains(
                "either `instance_type` or `spot_instance_types` must be specified, not both"
            ),
            "{e}"
        );
        assert!(
            e.contains("spot instances do not support modification"),
            "{e}"
        );

        let raw = RawConfig::from_value(with(json!({
            "spot_instance_types": ["t3.small", "t3.medium"], "spot_price": "0.05",
            "spot_tags": {"Name": "{{ .SourceAMIName }}"}, "block_duration_minutes": 120,
            "metadata_options": {"http_tokens": "required"}
        })));
        let c = prepare(&raw, &cx()).unwrap();
        assert_eq!(c.market, Market::SpotMax("0.05".into()));
        assert_eq!(c.spot_instance_types, ["t3.small", "t3.medium"]);
        assert_eq!(
            c.spot_tags["Name"], "{{ .SourceAMIName }}",
            "rendered at run time"
        );
        assert_eq!(c.block_duration_minutes, 120);
        assert_eq!(
            c.metadata_options,
            Some(MetadataOptions {
                http_endpoint: "enabled".into(),
                http_tokens: "required".into(),
                http_put_response_hop_limit: 1,
                instance_metadata_tags: "disabled".into(),
            })
        );
        // `spot_price: "0"` is on demand, as in Packer.
        let raw = RawConfig::from_value(with(
            json!({"instance_type": "t3.micro", "spot_price": "0"}),
        ));
        assert_eq!(prepare(&raw, &cx()).unwrap().market, Market::OnDemand);
    }

    #[test]
    fn filters_and_policy_document() {
        let raw = RawConfig::from_value(with(json!({
            "instance_type": "t3.micro",
            "vpc_filter": {"filters": {"tag:Class": "build"}},
            "security_group_filter": {"filters": {}},
            "temporary_iam_instance_profile_policy_document": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": ["*"]}]
            },
            "no_ephemeral": true,
            "insecure_skip_tls_verify": true
        })));
        let c = prepare(&raw, &cx()).unwrap();
        assert_eq!(
            c.vpc_filter,
            Some(BTreeMap::from([(
                "tag:Class".to_string(),
                "build".to_string()
            )]))
        );
        assert_eq!(c.security_group_filter, None, "empty filters are no filter");
        assert!(c.no_ephemeral && c.access.insecure_skip_tls_verify);
        assert_eq!(
            serde_json::to_string(c.temporary_iam_policy.as_ref().unwrap()).unwrap(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:*"],"Resource":["*"]}]}"#
        );
        let raw = RawConfig::from_value(with(json!({
            "instance_type": "t3.micro",
            "temporary_iam_instance_profile_policy_document": {"Statement": [], "Versoin": "x"}
        })));
        let e = prepare(&raw, &cx()).unwrap_err().to_string();
        assert!(e.contains("Versoin"), "{e}");
    }

    #[test]
    fn hcl2_blocks_are_one_element_lists() {
        let raw = RawConfig::from_value(with(json!({
            "instance_type": "t3.micro",
            "source_ami_filter": [{"filters": {"name": "x-*"}, "owners": ["self"], "most_recent": "true"}],
            "vpc_filter": [{"filters": {"tag:Class": "build"}}],
            "metadata_options": [{"http_put_response_hop_limit": "2"}],
            "aws_polling": [{"delay_seconds": 2}],
            "temporary_iam_instance_profile_policy_document": [{
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["logs:*"], "Resource": ["*"]}]
            }]
        })));
        let c = prepare(&raw, &cx()).unwrap();
        assert!(c.source.most_recent);
        assert_eq!(c.source.owners, ["self"]);
        assert!(c.vpc_filter.is_some());
        assert_eq!(c.metadata_options.unwrap().http_put_response_hop_limit, 2);
        assert_eq!(c.polling.delay, Duration::from_secs(2));
        assert_eq!(c.temporary_iam_policy.unwrap().statement.len(), 1);
        let raw = RawConfig::from_value(with(json!({
            "instance_type": "t3.micro",
            "vpc_filter": [{"filters": {}}, {"filters": {}}]
        })));
        let e = prepare(&raw, &cx()).unwrap_err().to_string();
        assert!(e.contains("only one block is allowed here"), "{e}");
    }

    #[test]
    fn no_region_validates_and_cannot_start() {
        // Packer 1.6.6's `validate` passes without a region (and without
        // any AWS environment); the build must stop before any API call.
        if std::env::var_os("AWS_REGION").is_some()
            || std::env::var_os("AWS_DEFAULT_REGION").is_some()
        {
            return;
        }
        let mut v = with(json!({"instance_type": "t3.micro"}));
        v.as_object_mut().unwrap().remove("region");
        let cfg = prepare(&RawConfig::from_value(v), &cx()).unwrap();
        assert_eq!(cfg.access.region, "");
        let why = cannot_start(&cfg).unwrap();
        assert!(why.starts_with("no AWS region: set `region`"), "{why}");
    }

    #[test]
    fn session_manager_validates_and_cannot_start() {
        // Packer 1.6.6 requires an instance profile with it.
        let raw = RawConfig::from_value(with(json!({
            "instance_type": "t3.micro", "ssh_interface": "session_manager"
        })));
        let e = prepare(&raw, &cx()).unwrap_err().to_string();
        assert!(e.contains("no `iam_instance_profile` defined"), "{e}");
        let raw = RawConfig::from_value(with(json!({
            "instance_type": "t3.micro", "ssh_interface": "session_manager",
            "iam_instance_profile": "ssm", "session_manager_port": 8123
        })));
        let cfg = prepare(&raw, &cx()).unwrap();
        assert_eq!(cfg.ssh_interface, SshInterface::SessionManager);
        let why = cannot_start(&cfg).unwrap();
        assert!(why.contains("is not supported by kiln yet"), "{why}");
        let raw = RawConfig::from_value(with(json!({
            "instance_type": "t3.micro", "ssh_interface": "session_manger"
        })));
        let e = prepare(&raw, &cx()).unwrap_err().to_string();
        assert!(e.contains("did you mean `session_manager`?"), "{e}");
    }

    #[test]
    fn ami_virtualization_type_is_accepted() {
        // Packer 1.6.6's amazon-ebs accepts any value; it only matters for
        // enhanced networking (see step_source_ami_info).
        let raw = RawConfig::from_value(with(json!({
            "instance_type": "t3.micro", "ami_virtualization_type": "paravirtual"
        })));
        let cfg = prepare(&raw, &cx()).unwrap();
        assert_eq!(cfg.ami_virtualization_type.as_deref(), Some("paravirtual"));
        assert_eq!(cannot_start(&cfg), None);
        let e = crate::step_source_ami_info::enhanced_networking_error;
        assert_eq!(e(&cfg, Some("hvm"), "ami-1"), None);
        let mut ena = cfg.clone();
        ena.ena_support = Some(true);
        assert_eq!(
            e(&ena, Some("hvm"), "ami-1").unwrap(),
            "cannot enable enhanced networking: `ami_virtualization_type` `paravirtual` is not `hvm`"
        );
        ena.ami_virtualization_type = None;
        assert_eq!(e(&ena, Some("hvm"), "ami-1"), None);
        assert!(e(&ena, Some("paravirtual"), "ami-1")
            .unwrap()
            .contains("the source AMI `ami-1` is not HVM"));
        ena.ami_virtualization_type = Some("hvm".into());
        assert_eq!(e(&ena, Some("paravirtual"), "ami-1"), None);
    }

    #[test]
    fn ami_name_rules() {
        assert!(check_ami_name("ok name (1) [x] ./-'@_").is_none());
        assert!(check_ami_name("no*stars").is_some());
        assert!(check_ami_name("ab").is_some());
    }
}
