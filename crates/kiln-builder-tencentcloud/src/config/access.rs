//! The access section (Packer's `TencentCloudAccessConfig`): `secret_id`,
//! `secret_key`, `security_token`, `region`, `zone` and
//! `skip_region_validation`, with the `TENCENTCLOUD_SECRET_ID`,
//! `TENCENTCLOUD_SECRET_KEY`, `TENCENTCLOUD_SECURITY_TOKEN` and
//! `TENCENTCLOUD_REGION` environment variables, and kiln's
//! `KILN_TENCENTCLOUD_ENDPOINT` (one URL for every service: tests, proxies).
//! Pure: the environment comes in as a lookup function; holds nothing.

use kiln_cloud::config::{nonempty, Env};
use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::Secret;
use serde::Deserialize;

/// The access keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawAccess {
    pub(super) secret_id: Option<String>,
    pub(super) secret_key: Option<Secret<String>>,
    pub(super) security_token: Option<Secret<String>>,
    pub(super) region: Option<String>,
    pub(super) zone: Option<String>,
    pub(super) skip_region_validation: bool,
}

/// Packer 1.6.6's region list (`ValidRegions`), which `region` and
/// `image_copy_regions` must name unless `skip_region_validation`.
pub const REGIONS: &[&str] = &[
    "ap-bangkok",
    "ap-beijing",
    "ap-chengdu",
    "ap-chongqing",
    "ap-guangzhou",
    "ap-guangzhou-open",
    "ap-hongkong",
    "ap-jakarta",
    "ap-mumbai",
    "ap-nanjing",
    "ap-seoul",
    "ap-shanghai",
    "ap-shanghai-fsi",
    "ap-shenzhen-fsi",
    "ap-singapore",
    "ap-tokyo",
    "eu-frankfurt",
    "eu-moscow",
    "na-ashburn",
    "na-siliconvalley",
    "na-toronto",
    "sa-saopaulo",
];

/// How to reach Tencent Cloud and as whom.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    /// `secret_id` (or `TENCENTCLOUD_SECRET_ID`).
    pub secret_id: String,
    /// `secret_key` (or `TENCENTCLOUD_SECRET_KEY`).
    pub secret_key: Secret<String>,
    /// `security_token` (or `TENCENTCLOUD_SECURITY_TOKEN`): temporary
    /// credentials' token.
    pub security_token: Option<Secret<String>>,
    /// `region` (or `TENCENTCLOUD_REGION`).
    pub region: String,
    /// `zone`.
    pub zone: String,
    /// `skip_region_validation`.
    pub skip_region_validation: bool,
    /// `KILN_TENCENTCLOUD_ENDPOINT`: one URL every service is called at,
    /// in place of `https://<service>.tencentcloudapi.com`.
    pub endpoint: Option<String>,
}

/// Whether `region` is one of Packer's.
pub fn known_region(region: &str) -> bool {
    REGIONS.contains(&region)
}

/// Validates the access keys, `env` filling in what the template leaves
/// out.
pub(super) fn prepare(r: &RawAccess, env: Env<'_>, errors: &mut ConfigErrors) -> AccessConfig {
    let secret_id = env.or_var(&r.secret_id, "TENCENTCLOUD_SECRET_ID");
    let secret_key = env.secret_or_var(&r.secret_key, "TENCENTCLOUD_SECRET_KEY");
    let security_token = env.secret_or_var(&r.security_token, "TENCENTCLOUD_SECURITY_TOKEN");
    if secret_id.is_none() || secret_key.is_none() {
        errors.push(ConfigError::at(
            "secret_id",
            "parameter secret_id and secret_key must be set (or `TENCENTCLOUD_SECRET_ID` and `TENCENTCLOUD_SECRET_KEY` in the environment)",
        ));
    }
    let region = env.required(
        "region",
        &r.region,
        "TENCENTCLOUD_REGION",
        "a `region` must be specified in the template or as `TENCENTCLOUD_REGION` in the environment",
        errors,
    );
    if !region.is_empty() && !r.skip_region_validation && !known_region(&region) {
        errors.push(
            ConfigError::at("region", format!("unknown region: `{region}`")).with_hint(
                "set `skip_region_validation` to use a region Packer 1.6.6 does not list",
            ),
        );
    }
    let zone = nonempty(r.zone.clone()).unwrap_or_default();
    if zone.is_empty() {
        errors.push(ConfigError::at("zone", "zone must be set"));
    }
    AccessConfig {
        secret_id: secret_id.unwrap_or_default(),
        secret_key: secret_key.unwrap_or_else(|| Secret::new(String::new())),
        security_token,
        region,
        zone,
        skip_region_validation: r.skip_region_validation,
        endpoint: env
            .var("KILN_TENCENTCLOUD_ENDPOINT")
            .map(|e| e.trim_end_matches('/').to_string()),
    }
}
