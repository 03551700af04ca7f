//! The access section (the plugin's `AccessConfig`): `public_key`,
//! `private_key`, `region`, `project_id`, `base_url`, `profile` and
//! `shared_credentials_file`, each with its `UCLOUD_*` environment
//! variable. Pure: the environment comes in as a lookup function; holds
//! nothing.

use std::path::PathBuf;

use kiln_cloud::config::{nonempty, Env};
use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::Secret;
use serde::Deserialize;

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

/// Validates the access keys, `env` filling in what the template leaves
/// out.
pub(super) fn prepare(r: &RawAccess, env: Env<'_>, errors: &mut ConfigErrors) -> AccessConfig {
    let public_key = env.or_var(&r.public_key, "UCLOUD_PUBLIC_KEY");
    let private_key = env.secret_or_var(&r.private_key, "UCLOUD_PRIVATE_KEY");
    let profile = env.or_var(&r.profile, "UCLOUD_PROFILE");
    let region = env.required(
        "region",
        &r.region,
        "UCLOUD_REGION",
        "a `region` must be set in the template or as `UCLOUD_REGION` in the environment",
        errors,
    );
    let project_id = env.required(
        "project_id",
        &r.project_id,
        "UCLOUD_PROJECT_ID",
        "a `project_id` must be set in the template or as `UCLOUD_PROJECT_ID` in the environment",
        errors,
    );
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
        shared_credentials_file: env
            .or_var(&r.shared_credentials_file, "UCLOUD_SHARED_CREDENTIAL_FILE")
            .map(PathBuf::from),
    }
}
