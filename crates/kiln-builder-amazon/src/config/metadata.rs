//! The `metadata_options` block (part of Packer's `RunConfig`): the build
//! instance's metadata service settings, each checked against EC2's
//! values, with Packer's defaults for what is not given. Pure; holds
//! nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;
use super::raw::one_block;

/// `metadata_options` as the template writes it.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawMetadataSection {
    #[serde(deserialize_with = "one_block")]
    pub(super) metadata_options: Option<RawMetadataOptions>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMetadataOptions {
    pub(super) http_endpoint: Option<String>,
    pub(super) http_tokens: Option<String>,
    pub(super) http_put_response_hop_limit: Option<i64>,
    pub(super) instance_metadata_tags: Option<String>,
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

/// Validates `metadata_options` when given.
pub(super) fn prepare(
    r: &RawMetadataSection,
    errors: &mut ConfigErrors,
) -> Option<MetadataOptions> {
    r.metadata_options.as_ref().map(|m| {
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
    })
}
