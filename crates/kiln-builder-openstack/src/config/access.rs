//! The access section (Packer's `AccessConfig`): who kiln is to Keystone
//! and where Keystone is. The template's keys come first; what they leave
//! out comes from the `cloud` entry of `clouds.yaml` (or `OS_CLOUD`), else
//! from the `OS_*` environment variables, as gophercloud's `clientconfig`
//! resolves them for Packer (`OS_AUTH_URL`, `OS_USERNAME`, `OS_USERID`,
//! `OS_PASSWORD`, `OS_TOKEN`, `OS_PROJECT_ID`/`OS_TENANT_ID`,
//! `OS_PROJECT_NAME`/`OS_TENANT_NAME`, `OS_DOMAIN_ID`/`_NAME`,
//! `OS_USER_DOMAIN_ID`/`_NAME`, `OS_PROJECT_DOMAIN_ID`/`_NAME`,
//! `OS_APPLICATION_CREDENTIAL_ID`/`_NAME`/`_SECRET`, `OS_REGION_NAME`,
//! `OS_CACERT`, `OS_CERT`, `OS_KEY`, and Rackspace's old `SDK_*`). The
//! result is typed: one [`Credential`], one [`Scope`]. Pure but for reading
//! `clouds.yaml`; touches no network (Packer 1.6.6 authenticates at
//! `validate`; kiln does not). Holds nothing.

use std::path::PathBuf;

use kiln_cloud::config::{nonempty, Env};
use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::Secret;
use serde::Deserialize;

use super::clouds::{self, CloudEntry};

/// The access keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawAccess {
    username: Option<String>,
    user_id: Option<String>,
    password: Option<Secret<String>>,
    identity_endpoint: Option<String>,
    tenant_id: Option<String>,
    tenant_name: Option<String>,
    domain_id: Option<String>,
    domain_name: Option<String>,
    insecure: bool,
    region: Option<String>,
    endpoint_type: Option<String>,
    cacert: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    token: Option<Secret<String>>,
    application_credential_name: Option<String>,
    application_credential_id: Option<String>,
    application_credential_secret: Option<Secret<String>>,
    cloud: Option<String>,
}

/// A Keystone domain, by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    /// `domain_id`.
    Id(String),
    /// `domain_name`.
    Name(String),
}

/// A user, by id or by name in a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    /// `user_id`.
    Id(String),
    /// `username`, in its domain.
    Name {
        /// The name.
        name: String,
        /// The user's domain.
        domain: Domain,
    },
}

/// How kiln proves who it is.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A user and password.
    Password {
        /// The user.
        user: User,
        /// The password.
        password: Secret<String>,
    },
    /// An existing token (`token`, `OS_TOKEN`).
    Token(Secret<String>),
    /// An application credential: its id, or its name and user.
    ApplicationCredential {
        /// `application_credential_id`.
        id: Option<String>,
        /// `application_credential_name`, with the user.
        name: Option<(String, User)>,
        /// `application_credential_secret`.
        secret: Secret<String>,
    },
}

/// What the token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A project by id (`tenant_id`).
    ProjectId(String),
    /// A project by name in a domain (`tenant_name`).
    ProjectName {
        /// The name.
        name: String,
        /// Its domain.
        domain: Option<Domain>,
    },
    /// A domain (no project given).
    Domain(Domain),
    /// Nothing: an application credential carries its own scope, else
    /// the token has no catalog (the build says so).
    None,
}

/// Which of an endpoint's interfaces the catalog gives (`endpoint_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// `public` / `publicURL` (the default).
    Public,
    /// `internal` / `internalURL`.
    Internal,
    /// `admin` / `adminURL`.
    Admin,
}

impl Interface {
    /// The catalog's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }
}

/// The validated access settings.
#[derive(Debug, Clone)]
pub struct AccessConfig {
    /// Keystone's URL as given (`identity_endpoint`, `auth_url`,
    /// `OS_AUTH_URL`).
    pub auth_url: String,
    /// How kiln proves who it is.
    pub credential: Credential,
    /// What the token is scoped to.
    pub scope: Scope,
    /// `region` (or `OS_REGION_NAME`, or the cloud's `region_name`): the
    /// catalog's endpoints of that region; any when unset.
    pub region: Option<String>,
    /// `endpoint_type`.
    pub interface: Interface,
    /// `insecure` (or the cloud's `verify: false`).
    pub insecure: bool,
    /// `cacert` (or `OS_CACERT`).
    pub cacert: Option<PathBuf>,
    /// `cert` and `key` (or `OS_CERT`, `OS_KEY`): a TLS client identity.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// The `cloud` used, if any.
    pub cloud: Option<String>,
    /// The cloud's `<service>_endpoint_override`s, by service: these
    /// endpoints replace the catalog's (a proxy, a cloud whose catalog is
    /// wrong).
    pub endpoint_overrides: std::collections::BTreeMap<String, String>,
}

/// The valid `endpoint_type`s.
pub const ENDPOINT_TYPES: &[&str] = &[
    "public",
    "publicURL",
    "internal",
    "internalURL",
    "admin",
    "adminURL",
];

/// Validates the access keys, with `env` for the environment.
pub(super) fn prepare(r: &RawAccess, env: Env<'_>, errors: &mut ConfigErrors) -> AccessConfig {
    let interface = match nonempty(r.endpoint_type.clone()).as_deref() {
        None | Some("public" | "publicURL") => Interface::Public,
        Some("internal" | "internalURL") => Interface::Internal,
        Some("admin" | "adminURL") => Interface::Admin,
        Some(other) => {
            errors.push(ConfigError::at(
                "endpoint_type",
                format!(
                    "invalid endpoint type `{other}`: expected one of {}",
                    ENDPOINT_TYPES
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            Interface::Public
        }
    };
    // The cloud's entry, if one is named (the template, else OS_CLOUD).
    let cloud = env.or_var(&r.cloud, "OS_CLOUD");
    let entry = match &cloud {
        Some(name) => match clouds::load(name, &|k: &str| env.var(k)) {
            Ok(e) => e,
            Err(e) => {
                let key = if nonempty(r.cloud.clone()).is_some() {
                    "cloud"
                } else {
                    "OS_CLOUD"
                };
                errors.push(ConfigError::at(key, e.to_string()));
                CloudEntry::default()
            }
        },
        None => CloudEntry::default(),
    };
    let a = &entry.auth;
    // Each value: the template's, else the cloud's, else the environment's.
    let pick = |template: &Option<String>, cloud: &Option<String>, vars: &[&str]| {
        nonempty(template.clone())
            .or_else(|| nonempty(cloud.clone()))
            .or_else(|| vars.iter().find_map(|v| env.var(v)))
    };
    let secret = |template: &Option<Secret<String>>, cloud: &Option<String>, vars: &[&str]| {
        template
            .clone()
            .filter(|s| !s.expose().is_empty())
            .or_else(|| nonempty(cloud.clone()).map(Secret::new))
            .or_else(|| vars.iter().find_map(|v| env.var(v)).map(Secret::new))
    };
    let auth_url = pick(&r.identity_endpoint, &a.auth_url, &["OS_AUTH_URL"]);
    let username = pick(&r.username, &a.username, &["OS_USERNAME", "SDK_USERNAME"]);
    let user_id = pick(&r.user_id, &a.user_id, &["OS_USERID", "OS_USER_ID"]);
    let password = secret(&r.password, &a.password, &["OS_PASSWORD", "SDK_PASSWORD"]);
    let token = secret(&r.token, &a.token, &["OS_TOKEN", "OS_AUTH_TOKEN"]);
    let project_id = pick(
        &r.tenant_id,
        &a.project_id,
        &["OS_PROJECT_ID", "OS_TENANT_ID"],
    );
    let project_name = pick(
        &r.tenant_name,
        &a.project_name,
        &["OS_PROJECT_NAME", "OS_TENANT_NAME", "SDK_PROJECT"],
    );
    let app_id = pick(
        &r.application_credential_id,
        &a.application_credential_id,
        &["OS_APPLICATION_CREDENTIAL_ID"],
    );
    let app_name = pick(
        &r.application_credential_name,
        &a.application_credential_name,
        &["OS_APPLICATION_CREDENTIAL_NAME"],
    );
    let app_secret = secret(
        &r.application_credential_secret,
        &a.application_credential_secret,
        &["OS_APPLICATION_CREDENTIAL_SECRET"],
    );
    // Domains: `domain_*` is the default of both the user's and the
    // project's; the template's `domain_*` is the user's (gophercloud's
    // override of `DomainID`/`DomainName`).
    let domain = |id: Option<String>, name: Option<String>| {
        id.map(Domain::Id).or_else(|| name.map(Domain::Name))
    };
    let common = domain(
        pick(&None, &a.domain_id, &["OS_DOMAIN_ID"]),
        pick(&None, &a.domain_name, &["OS_DOMAIN_NAME"]),
    );
    let template_domain = domain(
        nonempty(r.domain_id.clone()),
        nonempty(r.domain_name.clone()),
    );
    let user_domain = template_domain
        .clone()
        .or_else(|| {
            domain(
                pick(&None, &a.user_domain_id, &["OS_USER_DOMAIN_ID"]),
                pick(&None, &a.user_domain_name, &["OS_USER_DOMAIN_NAME"]),
            )
        })
        .or_else(|| common.clone());
    let project_domain = domain(
        pick(&None, &a.project_domain_id, &["OS_PROJECT_DOMAIN_ID"]),
        pick(&None, &a.project_domain_name, &["OS_PROJECT_DOMAIN_NAME"]),
    )
    .or_else(|| template_domain.clone())
    .or_else(|| common.clone());

    let auth_url = auth_url.unwrap_or_else(|| {
        errors.push(
            ConfigError::at(
                "identity_endpoint",
                "no identity endpoint: `identity_endpoint` is not set, and neither is `OS_AUTH_URL`",
            )
            .with_hint("set `identity_endpoint` to Keystone's URL (https://keystone.example:5000/v3), or name a `cloud` of clouds.yaml"),
        );
        String::new()
    });
    if !auth_url.is_empty() && reqwest::Url::parse(&auth_url).is_err() {
        errors.push(ConfigError::at(
            "identity_endpoint",
            format!("`{auth_url}` is not a URL"),
        ));
    }
    let user = |errors: &mut ConfigErrors, key: &str| -> Option<User> {
        if let Some(id) = &user_id {
            return Some(User::Id(id.clone()));
        }
        let name = username.clone()?;
        match &user_domain {
            Some(d) => Some(User::Name {
                name,
                domain: d.clone(),
            }),
            None => {
                errors.push(
                    ConfigError::at(
                        key,
                        format!("user `{name}` is given by name, but no domain is: Keystone v3 needs the user's domain"),
                    )
                    .with_hint("set `domain_name` (often `Default`) or `domain_id`, or `OS_USER_DOMAIN_NAME`"),
                );
                None
            }
        }
    };
    let token_auth = matches!(
        entry.auth_type.as_deref(),
        Some("token" | "v3token" | "admin_token")
    );
    let credential = if let (Some(secret), true) =
        (&app_secret, app_id.is_some() || app_name.is_some())
    {
        let name = match (&app_id, &app_name) {
            (None, Some(n)) => user(errors, "application_credential_name").map(|u| (n.clone(), u)),
            _ => None,
        };
        Some(Credential::ApplicationCredential {
            id: app_id.clone(),
            name,
            secret: secret.clone(),
        })
    } else if let (Some(t), true) = (&token, token_auth || password.is_none()) {
        Some(Credential::Token(t.clone()))
    } else if let Some(p) = &password {
        user(errors, "username").map(|u| Credential::Password {
            user: u,
            password: p.clone(),
        })
    } else {
        if app_id.is_some() || app_name.is_some() {
            errors.push(ConfigError::at(
                "application_credential_secret",
                "an application credential needs its secret: set `application_credential_secret` or `OS_APPLICATION_CREDENTIAL_SECRET`",
            ));
        } else {
            errors.push(
                ConfigError::at(
                    "password",
                    "no credentials: give `username` (or `user_id`) and `password`, a `token`, or an application credential",
                )
                .with_hint("the `OS_*` variables of an openrc file, or a `cloud` of clouds.yaml, work too"),
            );
        }
        None
    };
    let scope = match (&credential, project_id, project_name) {
        (Some(Credential::ApplicationCredential { .. }), _, _) => Scope::None,
        (_, Some(id), _) => Scope::ProjectId(id),
        (_, None, Some(name)) => Scope::ProjectName {
            name,
            domain: project_domain,
        },
        (_, None, None) => match common.or(template_domain) {
            Some(d) => Scope::Domain(d),
            None => Scope::None,
        },
    };
    let region = pick(
        &r.region,
        &entry.region_name,
        &["OS_REGION_NAME", "SDK_REGION"],
    );
    let cacert = pick(&r.cacert, &entry.cacert, &["OS_CACERT"]).map(PathBuf::from);
    let cert = pick(&r.cert, &entry.cert, &["OS_CERT"]);
    let key = pick(&r.key, &entry.key, &["OS_KEY"]);
    let client_cert = match (cert, key) {
        (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
        (Some(_), None) => {
            errors.push(ConfigError::at(
                "key",
                "`cert` is set but `key` is not: a client certificate needs its private key",
            ));
            None
        }
        (None, Some(_)) => {
            errors.push(ConfigError::at(
                "cert",
                "`key` is set but `cert` is not: a client key needs its certificate",
            ));
            None
        }
        (None, None) => None,
    };
    for (key, path) in [("cacert", cacert.as_ref())].into_iter().chain(
        client_cert
            .iter()
            .flat_map(|(c, k)| [("cert", Some(c)), ("key", Some(k))]),
    ) {
        if let Some(p) = path {
            if !p.is_file() {
                errors.push(ConfigError::at(
                    key,
                    format!("`{}` is not a readable file", p.display()),
                ));
            }
        }
    }
    AccessConfig {
        auth_url,
        credential: credential.unwrap_or(Credential::Token(Secret::new(String::new()))),
        scope,
        region,
        interface,
        insecure: r.insecure || entry.verify == Some(false),
        cacert,
        client_cert,
        cloud,
        endpoint_overrides: entry.endpoint_overrides(),
    }
}

impl AccessConfig {
    /// The secrets to keep out of every output.
    pub fn secrets(&self) -> Vec<String> {
        match &self.credential {
            Credential::Password { password, .. } => vec![password.expose().clone()],
            Credential::Token(t) => vec![t.expose().clone()],
            Credential::ApplicationCredential { secret, .. } => vec![secret.expose().clone()],
        }
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect()
    }
}
