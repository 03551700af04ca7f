//! The `assume_role` block (Packer's `AssumeRoleConfig`): the role the
//! build's credentials assume, with its session name, external id,
//! duration and inline policy. Pure; holds nothing.

use std::time::Duration;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;

/// `assume_role` as the template writes it.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAssumeRole {
    pub(super) role_arn: String,
    pub(super) session_name: Option<String>,
    pub(super) external_id: Option<String>,
    pub(super) duration_seconds: Option<u32>,
    pub(super) policy: Option<String>,
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

/// Validates `assume_role` when given.
pub(super) fn prepare(r: Option<&RawAssumeRole>, errors: &mut ConfigErrors) -> Option<AssumeRole> {
    r.map(|a| {
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
    })
}
