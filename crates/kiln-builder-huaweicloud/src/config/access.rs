//! The access section (the plugin's `AccessConfig`): `access_key`,
//! `secret_key`, `region`, `project_name`, `project_id`, `auth_url`,
//! `insecure`, each with its `HW_*` environment variable as the plugin
//! reads them, and kiln's `endpoints` (a URL per service, for private
//! clouds and tests). Pure; holds nothing.

use std::collections::BTreeMap;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::Secret;
use serde::Deserialize;

use super::nonempty;

/// The access keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawAccess {
    pub(super) access_key: Option<String>,
    pub(super) secret_key: Option<Secret<String>>,
    pub(super) region: Option<String>,
    pub(super) project_name: Option<String>,
    pub(super) project_id: Option<String>,
    pub(super) auth_url: Option<String>,
    pub(super) insecure: bool,
    pub(super) endpoints: BTreeMap<String, String>,
}

/// A Huawei Cloud service the builder calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    /// Elastic Cloud Server (servers, key pairs, zones, flavors, jobs).
    Ecs,
    /// Image Management Service.
    Ims,
    /// Virtual Private Cloud (VPCs, subnets, security groups).
    Vpc,
    /// Elastic IP.
    Eip,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 4] = [Service::Ecs, Service::Ims, Service::Vpc, Service::Eip];

    /// Its host name label and `endpoints` key (`ecs`).
    pub fn key(self) -> &'static str {
        match self {
            Service::Ecs => "ecs",
            Service::Ims => "ims",
            Service::Vpc => "vpc",
            Service::Eip => "eip",
        }
    }

    /// Its name in messages (`ECS`).
    pub fn name(self) -> &'static str {
        match self {
            Service::Ecs => "ECS",
            Service::Ims => "IMS",
            Service::Vpc => "VPC",
            Service::Eip => "EIP",
        }
    }
}

/// The endpoint of each service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints(pub BTreeMap<Service, String>);

impl Endpoints {
    /// Huawei's public endpoints of `region`
    /// (`https://ecs.cn-north-4.myhuaweicloud.com`), as the plugin's
    /// `GetServiceEndpoint` makes them, with `custom` ones in their place.
    pub fn of(region: &str, custom: &BTreeMap<Service, String>) -> Endpoints {
        Endpoints(
            Service::ALL
                .iter()
                .map(|s| {
                    let url = custom.get(s).cloned().unwrap_or_else(|| {
                        format!("https://{}.{region}.myhuaweicloud.com", s.key())
                    });
                    (*s, url.trim_end_matches('/').to_string())
                })
                .collect(),
        )
    }

    /// The endpoint of `service`.
    pub fn get(&self, service: Service) -> &str {
        &self.0[&service]
    }
}

/// How to reach Huawei Cloud and as whom.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    /// `access_key` (or `HW_ACCESS_KEY`).
    pub access_key: String,
    /// `secret_key` (or `HW_SECRET_KEY`); `None` only after an error.
    pub secret_key: Option<Secret<String>>,
    /// `region` (or `HW_REGION_NAME`).
    pub region: String,
    /// `project_id` (or `HW_PROJECT_ID`).
    pub project_id: String,
    /// `project_name` (or `HW_PROJECT_NAME`, else the region).
    pub project_name: String,
    /// `auth_url` (or `HW_AUTH_URL`).
    pub auth_url: String,
    /// `insecure`: trust any certificate.
    pub insecure: bool,
    /// Each service's endpoint.
    pub endpoints: Endpoints,
}

/// The plugin's default identity endpoint.
pub const DEFAULT_AUTH_URL: &str = "https://iam.myhuaweicloud.com:443/v3";

/// Validates the access keys; `env` reads an environment variable.
pub(super) fn prepare(
    r: &RawAccess,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut ConfigErrors,
) -> AccessConfig {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let access_key = nonempty(r.access_key.clone()).or_else(|| env("HW_ACCESS_KEY"));
    let secret_key = r
        .secret_key
        .clone()
        .filter(|s| !s.expose().is_empty())
        .or_else(|| env("HW_SECRET_KEY").map(Secret::new));
    let region = nonempty(r.region.clone()).or_else(|| env("HW_REGION_NAME"));
    for (key, var, missing) in [
        ("access_key", "HW_ACCESS_KEY", access_key.is_none()),
        ("secret_key", "HW_SECRET_KEY", secret_key.is_none()),
        ("region", "HW_REGION_NAME", region.is_none()),
    ] {
        if missing {
            errors.push(ConfigError::at(
                key,
                format!("`{key}` must be set in the template or as `{var}` in the environment"),
            ));
        }
    }
    let region = region.unwrap_or_default();
    let project_id = nonempty(r.project_id.clone())
        .or_else(|| env("HW_PROJECT_ID"))
        .unwrap_or_default();
    if project_id.is_empty() {
        errors.push(ConfigError::at(
            "project_id",
            "`project_id` must be set in the template or as `HW_PROJECT_ID` in the environment\n  hint: kiln does not look the project up by `project_name` through IAM yet; the console's \"My Credentials\" page lists each region's project ID",
        ));
    }
    let mut custom = BTreeMap::new();
    for (k, v) in &r.endpoints {
        match Service::ALL.iter().find(|s| s.key() == k) {
            Some(s) if v.starts_with("http://") || v.starts_with("https://") => {
                custom.insert(*s, v.clone());
            }
            Some(_) => errors.push(ConfigError::at(
                "endpoints",
                format!("the `{k}` endpoint `{v}` is not an `http://` or `https://` URL"),
            )),
            None => errors.push(ConfigError::at(
                "endpoints",
                format!("unknown service `{k}`: expected `ecs`, `ims`, `vpc` or `eip`"),
            )),
        }
    }
    AccessConfig {
        access_key: access_key.unwrap_or_default(),
        secret_key,
        project_name: nonempty(r.project_name.clone())
            .or_else(|| env("HW_PROJECT_NAME"))
            .unwrap_or_else(|| region.clone()),
        project_id,
        auth_url: nonempty(r.auth_url.clone())
            .or_else(|| env("HW_AUTH_URL"))
            .unwrap_or_else(|| DEFAULT_AUTH_URL.to_string()),
        insecure: r.insecure,
        endpoints: Endpoints::of(&region, &custom),
        region,
    }
}
