//! The IAM part of Packer's `RunConfig`: `iam_instance_profile` (and
//! `skip_profile_validation`), or a temporary instance profile whose role
//! has the inline policy `temporary_iam_instance_profile_policy_document`
//! (its `Version`, and at least one `Statement`). Pure; holds nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;
use kiln_sdk::config::OneOrMany;

use super::raw::one_block;

/// The IAM keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawIam {
    pub(super) iam_instance_profile: Option<String>,
    pub(super) skip_profile_validation: bool,
    #[serde(deserialize_with = "one_block")]
    pub(super) temporary_iam_instance_profile_policy_document: Option<RawPolicyDocument>,
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

impl RawIam {
    /// Whether the instance gets an instance profile, given or temporary.
    pub(super) fn instance_profile(&self) -> bool {
        nonempty(self.iam_instance_profile.clone()).is_some()
            || self
                .temporary_iam_instance_profile_policy_document
                .is_some()
    }
}

/// Validates the temporary policy document when given.
pub(super) fn prepare(r: &RawIam, errors: &mut ConfigErrors) -> Option<PolicyDocument> {
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
    temporary_iam_policy
}
