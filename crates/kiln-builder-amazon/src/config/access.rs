//! The access section (Packer's `AccessConfig`): `region` (or
//! `AWS_REGION`), the template's credentials, `profile`,
//! `shared_credentials_file`, `assume_role`, `custom_endpoint_ec2`,
//! `max_retries` and `insecure_skip_tls_verify`. Pure but for reading the
//! region's environment variables; holds nothing.

use std::path::PathBuf;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::Secret;
use serde::Deserialize;

use super::assume_role::{self, AssumeRole, RawAssumeRole};
use super::nonempty;
use super::raw::one_block;
use super::regions::check_region;

/// The access keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawAccess {
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
    pub(super) max_retries: Option<u32>,
    pub(super) insecure_skip_tls_verify: bool,
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
    /// `max_retries`: the attempts per call when calls fail (throttled,
    /// 5xx, connection failures); `None` (unset, or 0 as in Packer) leaves
    /// them to kiln's retry policy ([`crate::client::attempts`]).
    pub max_retries: Option<u32>,
    /// `skip_credential_validation`: do not resolve credentials up front.
    pub skip_credential_validation: bool,
    /// `insecure_skip_tls_verify`: accept any TLS certificate from the
    /// endpoints (EC2, IAM, STS).
    pub insecure_skip_tls_verify: bool,
}

/// Validates the access keys.
pub(super) fn prepare(r: &RawAccess, errors: &mut ConfigErrors) -> AccessConfig {
    // Access. Packer 1.6.6 validates a template without a region (the
    // SDK may find one when the build starts); kiln's build fails at once
    // when there is none ([`super::cannot_start`]).
    let region = nonempty(r.region.clone())
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|s| !s.is_empty()))
        .or_else(|| {
            std::env::var("AWS_DEFAULT_REGION")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_default();
    if !region.is_empty() {
        check_region("region", &region, r.skip_region_validation, errors);
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
    let assume_role = assume_role::prepare(r.assume_role.as_ref(), errors);

    AccessConfig {
        region,
        credentials,
        profile: nonempty(r.profile.clone()),
        shared_credentials_file: nonempty(r.shared_credentials_file.clone()).map(PathBuf::from),
        assume_role,
        endpoint,
        // Packer's AccessConfig.Prepare: 0 means "use the default".
        max_retries: r.max_retries.filter(|n| *n > 0),
        skip_credential_validation: r.skip_credential_validation,
        insecure_skip_tls_verify: r.insecure_skip_tls_verify,
    }
}
