//! The access section (Packer's `AccessConfig`): `region` (or
//! `AWS_REGION`), the template's credentials, `profile`,
//! `shared_credentials_file`, `assume_role`, `custom_endpoint_ec2`,
//! `max_retries`, `insecure_skip_tls_verify`, and `aws_polling` (with the
//! SDK's `AWS_POLL_DELAY_SECONDS` / `AWS_MAX_ATTEMPTS` overrides). Pure;
//! holds nothing.

use std::path::PathBuf;
use std::time::Duration;

use kiln_sdk::config::{did_you_mean, ConfigError, ConfigErrors};
use kiln_sdk::Secret;

use super::nonempty;
use super::raw::Raw;

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

pub(super) fn check_region(key: &str, region: &str, skip: bool, errors: &mut ConfigErrors) {
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

/// Validates the access keys and `aws_polling`.
pub(super) fn prepare(r: &Raw, errors: &mut ConfigErrors) -> (AccessConfig, Polling) {
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

    (access, polling)
}
