//! The access section (the plugin's `AccessConfig`): `public_key`,
//! `private_key`, `region`, `project_id`, `base_url`, `profile` and
//! `shared_credentials_file`, each with its `UCLOUD_*` environment
//! variable. Pure: the environment comes in as a lookup function; holds
//! nothing.

use std::path::PathBuf;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::Secret;
use serde::Deserialize;

use super::nonempty;

/// UCloud's API endpoint (the plugin's default `base_url`).
pub const DEFAULT_BASE_URL: &str = "https://api.ucloud.cn";

/// The access keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawAccess {
    pub(super) public_key: Option<String>,
    pub(super) private_key: Option<Secret<String>>,
    pub(super) region: Option<String>,
    pub(super) project_id: Option<String>,
    pub(super) base_url: Option<String>,
    pub(super) profile: Option<String>,
    pub(super) shared_credentials_file: Option<String>,
}

/// Where the API credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `public_key`/`private_key` (or `UCLOUD_PUBLIC_KEY`/`UCLOUD_PRIVATE_KEY`).
    Keys {
        /// The public key.
        public_key: String,
        /// The private key.
        private_key: Secret<String>,
    },
    /// A profile of the UCloud CLI's `credential.json` (`profile`), read
    /// when the build starts.
    Profile(String),
}

/// How to reach UCloud and as whom.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    /// `region` (or `UCLOUD_REGION`).
    pub region: String,
    /// `project_id` (or `UCLOUD_PROJECT_ID`).
    pub project_id: String,
    /// `base_url`, [`DEFAULT_BASE_URL`] by default.
    pub base_url: String,
    /// The credentials.
    pub credentials: Credentials,
    /// `shared_credentials_file` (or `UCLOUD_SHARED_CREDENTIAL_FILE`);
    /// `None` is `~/.ucloud/credential.json`.
    pub shared_credentials_file: Option<PathBuf>,
}

/// Validates the access keys; `env` reads an environment variable.
pub(super) fn prepare(
    r: &RawAccess,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut ConfigErrors,
) -> AccessConfig {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let public_key = nonempty(r.public_key.clone()).or_else(|| env("UCLOUD_PUBLIC_KEY"));
    let private_key = r
        .private_key
        .clone()
        .filter(|s| !s.expose().is_empty())
        .or_else(|| env("UCLOUD_PRIVATE_KEY").map(Secret::new));
    let profile = nonempty(r.profile.clone()).or_else(|| env("UCLOUD_PROFILE"));
    let region = nonempty(r.region.clone())
        .or_else(|| env("UCLOUD_REGION"))
        .unwrap_or_default();
    if region.is_empty() {
        errors.push(ConfigError::at(
            "region",
            "a `region` must be set in the template or as `UCLOUD_REGION` in the environment",
        ));
    }
    let project_id = nonempty(r.project_id.clone())
        .or_else(|| env("UCLOUD_PROJECT_ID"))
        .unwrap_or_default();
    if project_id.is_empty() {
        errors.push(ConfigError::at(
            "project_id",
            "a `project_id` must be set in the template or as `UCLOUD_PROJECT_ID` in the environment",
        ));
    }
    let credentials = match (public_key, private_key, profile) {
        (Some(public_key), Some(private_key), _) => Some(Credentials::Keys {
            public_key,
            private_key,
        }),
        (_, _, Some(p)) => Some(Credentials::Profile(p)),
        (a, b, None) => {
            let message = match (a.is_some(), b.is_some()) {
                (true, false) => "`public_key` is set but `private_key` is not (nor `UCLOUD_PRIVATE_KEY`): give both, or a `profile`",
                (false, true) => "`private_key` is set but `public_key` is not (nor `UCLOUD_PUBLIC_KEY`): give both, or a `profile`",
                _ => "no UCloud credentials: set `public_key` and `private_key` (or `UCLOUD_PUBLIC_KEY` and `UCLOUD_PRIVATE_KEY`), or a `profile` (or `UCLOUD_PROFILE`)",
            };
            errors.push(ConfigError::at("public_key", message));
            None
        }
    };
    let base_url = match nonempty(r.base_url.clone()) {
        None => DEFAULT_BASE_URL.to_string(),
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            u.trim_end_matches('/').to_string()
        }
        Some(u) => {
            errors.push(ConfigError::at(
                "base_url",
                format!("`base_url` must be an http:// or https:// URL, got `{u}`"),
            ));
            u
        }
    };
    AccessConfig {
        region,
        project_id,
        base_url,
        // Unset only when an error was reported.
        credentials: credentials.unwrap_or(Credentials::Profile(String::new())),
        shared_credentials_file: nonempty(r.shared_credentials_file.clone())
            .or_else(|| env("UCLOUD_SHARED_CREDENTIAL_FILE"))
            .map(PathBuf::from),
    }
}
