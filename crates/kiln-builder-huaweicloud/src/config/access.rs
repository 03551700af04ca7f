//! The access section (the plugin's `AccessConfig`): `access_key`,
//! `secret_key`, `region`, `project_name`, `project_id`, `auth_url`,
//! `insecure`, each with its `HW_*` environment variable as the plugin
//! reads them, and kiln's `endpoints` (a URL per service, for private
//! clouds and tests). Pure; holds nothing.

use std::collections::BTreeMap;

use kiln_cloud::config::Env;
use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::Secret;
use serde::Deserialize;

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
    /// Identity and Access Management: the project looked up by name when
    /// `project_id` is not given.
    Iam,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 5] = [
        Service::Ecs,
        Service::Ims,
        Service::Vpc,
        Service::Eip,
        Service::Iam,
    ];

    /// Its host name label and `endpoints` key (`ecs`).
    pub fn key(self) -> &'static str {
        match self {
            Service::Ecs => "ecs",
            Service::Ims => "ims",
            Service::Vpc => "vpc",
            Service::Eip => "eip",
            Service::Iam => "iam",
        }
    }

    /// Its name in messages (`ECS`).
    pub fn name(self) -> &'static str {
        match self {
            Service::Ecs => "ECS",
            Service::Ims => "IMS",
            Service::Vpc => "VPC",
            Service::Eip => "EIP",
            Service::Iam => "IAM",
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
    /// `project_id` (or `HW_PROJECT_ID`); empty: looked up through IAM by
    /// `project_name` when the build starts, as the plugin does.
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

/// Validates the access keys, `env` filling in what the template leaves
/// out.
pub(super) fn prepare(r: &RawAccess, env: Env<'_>, errors: &mut ConfigErrors) -> AccessConfig {
    let access_key = env.or_var(&r.access_key, "HW_ACCESS_KEY");
    let secret_key = env.secret_or_var(&r.secret_key, "HW_SECRET_KEY");
    let region = env.or_var(&r.region, "HW_REGION_NAME");
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
    let project_id = env
        .or_var(&r.project_id, "HW_PROJECT_ID")
        .unwrap_or_default();
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
                format!("unknown service `{k}`: expected `ecs`, `ims`, `vpc`, `eip` or `iam`"),
            )),
        }
    }
    let auth_url = env
        .or_var(&r.auth_url, "HW_AUTH_URL")
        .unwrap_or_else(|| DEFAULT_AUTH_URL.to_string());
    // IAM is where `auth_url` points (its `/v3` is the calls' own).
    custom.entry(Service::Iam).or_insert_with(|| {
        let base = auth_url.trim_end_matches('/');
        base.strip_suffix("/v3").unwrap_or(base).to_string()
    });
    AccessConfig {
        access_key: access_key.unwrap_or_default(),
        secret_key,
        project_name: env
            .or_var(&r.project_name, "HW_PROJECT_NAME")
            .unwrap_or_else(|| region.clone()),
        project_id,
        auth_url,
        insecure: r.insecure,
        endpoints: Endpoints::of(&region, &custom),
        region,
    }
}
