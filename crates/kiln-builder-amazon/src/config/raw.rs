//! The amazon-ebs keys exactly as a template writes them, before any
//! validation: one flat struct that the decoder fills (unknown keys are
//! reported by it, with the communicator's keys accepted), and the nested
//! objects (`assume_role`, `aws_polling`, filters, block devices,
//! `metadata_options`, the policy document). The sections
//! (`access`, `source`, `image`, …) read it. Pure; holds nothing.

use std::collections::BTreeMap;

use kiln_sdk::Secret;
use serde::Deserialize;

/// The keys exactly as a template writes them (unknown keys are reported
/// by the decoder, with the communicator's keys accepted).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Raw {
    // Access.
    pub(super) access_key: Option<String>,
    pub(super) secret_key: Option<Secret<String>>,
    pub(super) token: Option<Secret<String>>,
    pub(super) profile: Option<String>,
    pub(super) region: Option<String>,
    pub(super) shared_credentials_file: Option<String>,
    #[serde(deserialize_with = "one_block")]
    pub(super) assume_role: Option<RawAssumeRole>,
    pub(super) custom_endpoint_ec2: Option<String>,
    pub(super) skip_region_validation: bool,
    pub(super) skip_credential_validation: bool,
    pub(super) skip_metadata_api_check: bool,
    pub(super) decode_authorization_messages: bool,
    pub(super) max_retries: Option<u32>,
    #[serde(deserialize_with = "one_block")]
    pub(super) aws_polling: Option<RawPolling>,
    // Source.
    pub(super) source_ami: Option<String>,
    #[serde(deserialize_with = "one_block")]
    pub(super) source_ami_filter: Option<RawAmiFilter>,
    pub(super) instance_type: Option<String>,
    // AMI.
    pub(super) ami_name: Option<String>,
    pub(super) ami_description: Option<String>,
    pub(super) ami_regions: Vec<String>,
    pub(super) ami_users: Vec<String>,
    pub(super) ami_groups: Vec<String>,
    pub(super) snapshot_users: Vec<String>,
    pub(super) snapshot_groups: Vec<String>,
    pub(super) region_kms_key_ids: BTreeMap<String, String>,
    pub(super) tags: BTreeMap<String, String>,
    pub(super) run_tags: BTreeMap<String, String>,
    pub(super) run_volume_tags: BTreeMap<String, String>,
    pub(super) snapshot_tags: BTreeMap<String, String>,
    pub(super) launch_block_device_mappings: Vec<RawBlockDevice>,
    pub(super) ami_block_device_mappings: Vec<RawBlockDevice>,
    pub(super) encrypt_boot: Option<bool>,
    pub(super) kms_key_id: Option<String>,
    pub(super) force_deregister: bool,
    pub(super) force_delete_snapshot: bool,
    pub(super) skip_create_ami: bool,
    pub(super) deprecate_at: Option<String>,
    pub(super) ena_support: Option<bool>,
    pub(super) sriov_support: bool,
    pub(super) imds_support: Option<String>,
    // Run.
    pub(super) associate_public_ip_address: bool,
    pub(super) availability_zone: Option<String>,
    pub(super) subnet_id: Option<String>,
    pub(super) vpc_id: Option<String>,
    #[serde(deserialize_with = "one_block")]
    pub(super) subnet_filter: Option<RawSubnetFilter>,
    pub(super) security_group_id: Option<String>,
    pub(super) security_group_ids: Vec<String>,
    pub(super) temporary_security_group_source_cidrs: Vec<String>,
    pub(super) iam_instance_profile: Option<String>,
    pub(super) skip_profile_validation: bool,
    pub(super) user_data: Option<String>,
    pub(super) user_data_file: Option<String>,
    pub(super) ssh_keypair_name: Option<String>,
    pub(super) ssh_interface: Option<String>,
    pub(super) shutdown_behavior: Option<String>,
    pub(super) disable_stop_instance: bool,
    pub(super) ebs_optimized: bool,
    pub(super) enable_t2_unlimited: bool,
    pub(super) spot_price: Option<String>,
    pub(super) spot_instance_types: Vec<String>,
    pub(super) spot_tags: BTreeMap<String, String>,
    pub(super) block_duration_minutes: i64,
    pub(super) tenancy: Option<String>,
    #[serde(deserialize_with = "one_block")]
    pub(super) vpc_filter: Option<RawFilter>,
    #[serde(deserialize_with = "one_block")]
    pub(super) security_group_filter: Option<RawFilter>,
    #[serde(deserialize_with = "one_block")]
    pub(super) metadata_options: Option<RawMetadataOptions>,
    #[serde(deserialize_with = "one_block")]
    pub(super) temporary_iam_instance_profile_policy_document: Option<RawPolicyDocument>,
    pub(super) no_ephemeral: bool,
    pub(super) insecure_skip_tls_verify: bool,
    // Recognised, not supported (see NOT_SUPPORTED).
    pub(super) spot_price_auto_product: Option<serde_json::Value>,
    pub(super) vault_aws_engine: Option<serde_json::Value>,
    pub(super) mfa_code: Option<serde_json::Value>,
    pub(super) windows_password_timeout: Option<serde_json::Value>,
    pub(super) ami_product_codes: Option<serde_json::Value>,
    // Accepted; the build fails until the session manager is implemented.
    pub(super) session_manager_port: Option<u16>,
    pub(super) ami_virtualization_type: Option<String>,
}

/// An object-valued key: a JSON object, or in HCL2 one block (which the
/// HCL2 decoder hands over as a one-element list of objects). The inner
/// values keep the weak typing.
pub(super) fn one_block<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
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
pub(super) struct RawFilter {
    pub(super) filters: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMetadataOptions {
    pub(super) http_endpoint: Option<String>,
    pub(super) http_tokens: Option<String>,
    pub(super) http_put_response_hop_limit: Option<i64>,
    pub(super) instance_metadata_tags: Option<String>,
}

/// Packer decodes these keys case-insensitively; HCL2 spells them
/// `Version`, `Statement`, `Effect`, `Action`, `Resource`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPolicyDocument {
    #[serde(rename = "Version", alias = "version")]
    pub(super) version: Option<String>,
    #[serde(rename = "Statement", alias = "statement")]
    pub(super) statement: Vec<RawStatement>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStatement {
    #[serde(rename = "Effect", alias = "effect")]
    pub(super) effect: String,
    #[serde(rename = "Action", alias = "action")]
    pub(super) action: OneOrMany,
    #[serde(rename = "Resource", alias = "resource")]
    pub(super) resource: OneOrMany,
}

/// A list of strings, or one string (Packer's weak decoding).
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl Default for OneOrMany {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

impl OneOrMany {
    pub(super) fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAssumeRole {
    pub(super) role_arn: String,
    pub(super) session_name: Option<String>,
    pub(super) external_id: Option<String>,
    pub(super) duration_seconds: Option<u32>,
    pub(super) policy: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPolling {
    pub(super) delay_seconds: Option<u64>,
    pub(super) max_attempts: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAmiFilter {
    pub(super) filters: BTreeMap<String, String>,
    pub(super) owners: Vec<String>,
    pub(super) most_recent: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawSubnetFilter {
    pub(super) filters: BTreeMap<String, String>,
    pub(super) most_free: bool,
    pub(super) random: bool,
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
