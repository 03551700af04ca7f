//! The access section (Packer's `AlicloudAccessConfig`): `access_key`,
//! `secret_key`, `security_token`, `region`, `profile`,
//! `shared_credentials_file`, `ram_role_name`, `skip_region_validation`,
//! `skip_image_validation` and `custom_endpoint_ecs`, each with its
//! `ALICLOUD_*` environment variable. Pure: the environment comes in as a
//! lookup function; holds nothing.

use std::path::PathBuf;

use kiln_cloud::config::{nonempty, Env};
use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::Secret;
use serde::Deserialize;

use super::checks::endpoint_url;

/// The access keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawAccess {
    pub(super) access_key: Option<String>,
    pub(super) secret_key: Option<Secret<String>>,
    pub(super) security_token: Option<Secret<String>>,
    pub(super) region: Option<String>,
    pub(super) profile: Option<String>,
    pub(super) shared_credentials_file: Option<String>,
    pub(super) ram_role_name: Option<String>,
    pub(super) skip_region_validation: bool,
    pub(super) skip_image_validation: bool,
    pub(super) custom_endpoint_ecs: Option<String>,
}

/// Where the API credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// An AccessKey pair (`access_key`/`secret_key` or `ALICLOUD_ACCESS_KEY`/
    /// `ALICLOUD_SECRET_KEY`), with an STS `security_token` when given.
    Keys {
        /// The AccessKey ID.
        access_key: String,
        /// The AccessKey secret.
        secret_key: Secret<String>,
        /// `security_token` (or `ALICLOUD_SECURITY_TOKEN`, `SECURITY_TOKEN`).
        security_token: Option<Secret<String>>,
    },
    /// A profile of the Alibaba Cloud CLI's `config.json` (`profile`), read
    /// when the build starts.
    Profile(String),
    /// The RAM role of the ECS instance kiln runs on (`ram_role_name`),
    /// from its metadata service.
    EcsRamRole(String),
}

/// How to reach ECS and as whom.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    /// `region` (or `ALICLOUD_REGION`).
    pub region: String,
    /// The credentials.
    pub credentials: Credentials,
    /// `profile` (or `ALICLOUD_PROFILE`), also when keys are given: it
    /// fills in what they leave out.
    pub profile: Option<String>,
    /// `shared_credentials_file` (or `ALICLOUD_SHARED_CREDENTIALS_FILE`);
    /// `None` is `~/.aliyun/config.json`.
    pub shared_credentials_file: Option<PathBuf>,
    /// `ram_role_name`: the RAM role the instance is launched with.
    pub ram_role_name: Option<String>,
    /// `skip_region_validation`.
    pub skip_region_validation: bool,
    /// `skip_image_validation`.
    pub skip_image_validation: bool,
    /// `custom_endpoint_ecs`, as a URL (`https://` added to a bare host).
    pub custom_endpoint_ecs: Option<String>,
    /// The ECS metadata service `ram_role_name`'s credentials come from:
    /// [`METADATA_ENDPOINT`], or `KILN_ALICLOUD_METADATA_ENDPOINT` (tests,
    /// proxies).
    pub metadata_endpoint: String,
}

/// The ECS metadata service every instance reaches.
pub const METADATA_ENDPOINT: &str = "http://100.100.100.200";

/// Validates the access keys, `env` filling in what the template leaves
/// out.
pub(super) fn prepare(r: &RawAccess, env: Env<'_>, errors: &mut ConfigErrors) -> AccessConfig {
    let access_key = env.or_var(&r.access_key, "ALICLOUD_ACCESS_KEY");
    let secret_key = env.secret_or_var(&r.secret_key, "ALICLOUD_SECRET_KEY");
    let security_token = env
        .secret_or_var(&r.security_token, "ALICLOUD_SECURITY_TOKEN")
        .or_else(|| env.var("SECURITY_TOKEN").map(Secret::new));
    let profile = env.or_var(&r.profile, "ALICLOUD_PROFILE");
    let ram_role_name = nonempty(r.ram_role_name.clone());
    let region = env.required(
        "region",
        &r.region,
        "ALICLOUD_REGION",
        "a `region` must be specified in the template or as `ALICLOUD_REGION` in the environment",
        errors,
    );

    let credentials = match (access_key, secret_key) {
        (Some(access_key), Some(secret_key)) => Some(Credentials::Keys {
            access_key,
            secret_key,
            security_token,
        }),
        (half_a, half_b) => {
            let fallback = profile
                .clone()
                .map(Credentials::Profile)
                .or_else(|| ram_role_name.clone().map(Credentials::EcsRamRole));
            if fallback.is_none() {
                let message = match (half_a.is_some(), half_b.is_some()) {
                    (true, false) => "`access_key` is set but `secret_key` is not (nor `ALICLOUD_SECRET_KEY`): give both, or a `profile`",
                    (false, true) => "`secret_key` is set but `access_key` is not (nor `ALICLOUD_ACCESS_KEY`): give both, or a `profile`",
                    _ => "no Alibaba Cloud credentials: set `access_key` and `secret_key` (or `ALICLOUD_ACCESS_KEY` and `ALICLOUD_SECRET_KEY`), a `profile` (or `ALICLOUD_PROFILE`), or `ram_role_name`",
                };
                errors.push(ConfigError::at("access_key", message));
            }
            fallback
        }
    };

    let custom_endpoint_ecs = nonempty(r.custom_endpoint_ecs.clone())
        .and_then(|e| endpoint_url("custom_endpoint_ecs", &e, errors));

    AccessConfig {
        region,
        // Unset only when an error was reported.
        credentials: credentials.unwrap_or(Credentials::Profile(String::new())),
        profile,
        shared_credentials_file: env
            .or_var(
                &r.shared_credentials_file,
                "ALICLOUD_SHARED_CREDENTIALS_FILE",
            )
            .map(PathBuf::from),
        ram_role_name,
        skip_region_validation: r.skip_region_validation,
        skip_image_validation: r.skip_image_validation,
        custom_endpoint_ecs,
        metadata_endpoint: env
            .var("KILN_ALICLOUD_METADATA_ENDPOINT")
            .unwrap_or_else(|| METADATA_ENDPOINT.to_string()),
    }
}
