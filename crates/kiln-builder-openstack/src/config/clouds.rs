//! `clouds.yaml` (and its `secure.yaml`), as gophercloud's `clientconfig`
//! and the OpenStack client read them: the first file found among
//! `$OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
//! `~/.config/openstack/clouds.yaml` and `/etc/openstack/clouds.yaml`
//! (likewise `$OS_CLIENT_SECURE_FILE` and `secure.yaml`), the entry named
//! by `cloud` (or `OS_CLOUD`), with the secure file's values filling what
//! the entry leaves out. Reads files only; holds nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One cloud's entry.
#[derive(Deserialize, Default, Debug, Clone, PartialEq)]
#[serde(default)]
pub struct CloudEntry {
    /// `auth`.
    pub auth: AuthEntry,
    /// `auth_type` (`password`, `token`, `v3token`,
    /// `v3applicationcredential`, …).
    pub auth_type: Option<String>,
    /// `region_name`.
    pub region_name: Option<String>,
    /// `interface` (`public`, `internal`, `admin`).
    pub interface: Option<String>,
    /// `identity_api_version`.
    pub identity_api_version: Option<serde_yaml::Value>,
    /// `verify`: `false` skips TLS verification.
    pub verify: Option<bool>,
    /// `cacert`.
    pub cacert: Option<String>,
    /// `cert`.
    pub cert: Option<String>,
    /// `key`.
    pub key: Option<String>,
    /// The rest: `<service>_endpoint_override` among them.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_yaml::Value>,
}

impl CloudEntry {
    /// The entry's `<service>_endpoint_override`s (openstacksdk's), by
    /// service (`compute`, `image`, `network`, `block_storage`, …).
    pub fn endpoint_overrides(&self) -> BTreeMap<String, String> {
        self.extra
            .iter()
            .filter_map(|(k, v)| {
                let service = k.strip_suffix("_endpoint_override")?;
                Some((service.replace('-', "_"), v.as_str()?.to_string()))
            })
            .collect()
    }
}

/// An entry's `auth` section.
#[derive(Deserialize, Default, Debug, Clone, PartialEq)]
#[serde(default)]
pub struct AuthEntry {
    /// `auth_url`.
    pub auth_url: Option<String>,
    /// `token`.
    pub token: Option<String>,
    /// `username`.
    pub username: Option<String>,
    /// `user_id`.
    pub user_id: Option<String>,
    /// `password`.
    pub password: Option<String>,
    /// `project_id` (or `tenant_id`).
    #[serde(alias = "tenant_id")]
    pub project_id: Option<String>,
    /// `project_name` (or `tenant_name`).
    #[serde(alias = "tenant_name")]
    pub project_name: Option<String>,
    /// `domain_id`.
    pub domain_id: Option<String>,
    /// `domain_name`.
    pub domain_name: Option<String>,
    /// `user_domain_id`.
    pub user_domain_id: Option<String>,
    /// `user_domain_name`.
    pub user_domain_name: Option<String>,
    /// `project_domain_id`.
    pub project_domain_id: Option<String>,
    /// `project_domain_name`.
    pub project_domain_name: Option<String>,
    /// `application_credential_id`.
    pub application_credential_id: Option<String>,
    /// `application_credential_name`.
    pub application_credential_name: Option<String>,
    /// `application_credential_secret`.
    pub application_credential_secret: Option<String>,
}

/// A `clouds.yaml` or `secure.yaml` file.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct CloudsFile {
    clouds: BTreeMap<String, CloudEntry>,
}

/// Why the entry could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CloudsError {
    /// No `clouds.yaml` anywhere.
    #[error("cloud `{cloud}` was asked for, but no clouds.yaml was found (looked in {looked})")]
    NoFile {
        /// The cloud asked for.
        cloud: String,
        /// Where it looked.
        looked: String,
    },
    /// The file could not be read or parsed.
    #[error("cannot read `{path}`: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// No such entry.
    #[error("cloud `{cloud}` is not in `{path}` (it has: {known})")]
    NoCloud {
        /// The cloud asked for.
        cloud: String,
        /// The file.
        path: String,
        /// The entries it has.
        known: String,
    },
}

/// Where `name` (`clouds.yaml` or `secure.yaml`) is looked for, in order:
/// `$var`, the working directory, `~/.config/openstack`, `/etc/openstack`.
pub fn candidates(name: &str, var: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(p) = env(var).filter(|p| !p.is_empty()) {
        paths.push(PathBuf::from(p));
    }
    paths.push(PathBuf::from(name));
    if let Some(home) = env("HOME").filter(|h| !h.is_empty()) {
        paths.push(Path::new(&home).join(".config/openstack").join(name));
    }
    paths.push(Path::new("/etc/openstack").join(name));
    paths
}

fn read_file(path: &Path) -> Result<CloudsFile, CloudsError> {
    let failed = |reason: String| CloudsError::Read {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
    serde_yaml::from_str(&text).map_err(|e| failed(e.to_string()))
}

/// The entry `cloud` of the first `clouds.yaml` found, the first
/// `secure.yaml`'s entry of the same name filling its gaps.
pub fn load(cloud: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<CloudEntry, CloudsError> {
    let paths = candidates("clouds.yaml", "OS_CLIENT_CONFIG_FILE", env);
    let Some(path) = paths.iter().find(|p| p.is_file()) else {
        return Err(CloudsError::NoFile {
            cloud: cloud.to_string(),
            looked: paths
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let mut file = read_file(path)?;
    let Some(mut entry) = file.clouds.remove(cloud) else {
        let known: Vec<String> = file.clouds.keys().map(|k| format!("`{k}`")).collect();
        return Err(CloudsError::NoCloud {
            cloud: cloud.to_string(),
            path: path.display().to_string(),
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        });
    };
    let secure = candidates("secure.yaml", "OS_CLIENT_SECURE_FILE", env);
    if let Some(path) = secure.iter().find(|p| p.is_file()) {
        if let Some(s) = read_file(path)?.clouds.remove(cloud) {
            merge(&mut entry, s);
        }
    }
    Ok(entry)
}

/// Fills what `entry` leaves out from `secure`.
fn merge(entry: &mut CloudEntry, secure: CloudEntry) {
    macro_rules! fill {
        ($($f:ident).+) => {
            if entry.$($f).+.is_none() {
                entry.$($f).+ = secure.$($f).+.clone();
            }
        };
    }
    fill!(auth.auth_url);
    fill!(auth.token);
    fill!(auth.username);
    fill!(auth.user_id);
    fill!(auth.password);
    fill!(auth.project_id);
    fill!(auth.project_name);
    fill!(auth.domain_id);
    fill!(auth.domain_name);
    fill!(auth.user_domain_id);
    fill!(auth.user_domain_name);
    fill!(auth.project_domain_id);
    fill!(auth.project_domain_name);
    fill!(auth.application_credential_id);
    fill!(auth.application_credential_name);
    fill!(auth.application_credential_secret);
    fill!(auth_type);
    fill!(region_name);
    fill!(interface);
    fill!(verify);
    fill!(cacert);
    fill!(cert);
    fill!(key);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_is_read_and_secure_yaml_fills_its_password() {
        let dir = tempfile::tempdir().unwrap();
        let clouds = dir.path().join("clouds.yaml");
        std::fs::write(
            &clouds,
            "clouds:\n  lab:\n    auth:\n      auth_url: http://k:5000/v3\n      username: u\n      project_name: p\n      user_domain_name: Default\n    region_name: RegionOne\n    verify: false\n    compute_endpoint_override: http://proxy:1/v2.1\n",
        )
        .unwrap();
        let secure = dir.path().join("secure.yaml");
        std::fs::write(
            &secure,
            "clouds:\n  lab:\n    auth:\n      password: s3cret\n",
        )
        .unwrap();
        let (c, s) = (clouds.display().to_string(), secure.display().to_string());
        let env = move |k: &str| match k {
            "OS_CLIENT_CONFIG_FILE" => Some(c.clone()),
            "OS_CLIENT_SECURE_FILE" => Some(s.clone()),
            _ => None,
        };
        let e = load("lab", &env).unwrap();
        assert_eq!(e.auth.username.as_deref(), Some("u"));
        assert_eq!(e.auth.password.as_deref(), Some("s3cret"));
        assert_eq!(e.region_name.as_deref(), Some("RegionOne"));
        assert_eq!(e.verify, Some(false));
        assert_eq!(
            e.endpoint_overrides().get("compute").map(String::as_str),
            Some("http://proxy:1/v2.1")
        );
        let err = load("nope", &env).unwrap_err().to_string();
        assert!(
            err.contains("cloud `nope` is not in") && err.contains("`lab`"),
            "{err}"
        );
    }

    #[test]
    fn no_file_says_where_it_looked() {
        let env = |k: &str| match k {
            "OS_CLIENT_CONFIG_FILE" => Some("/nonexistent/clouds.yaml".to_string()),
            "HOME" => Some("/nonexistent-home".to_string()),
            _ => None,
        };
        let err = load("lab", &env).unwrap_err().to_string();
        assert!(
            err.contains("`/nonexistent/clouds.yaml`")
                && err.contains("`/nonexistent-home/.config/openstack/clouds.yaml`"),
            "{err}"
        );
    }
}
