//! AccessKeys from a profile of the Alibaba Cloud CLI's `config.json`
//! (`profile`, `shared_credentials_file`; `~/.aliyun/config.json` by
//! default), as Packer's `getConfigFromProfile` reads it: `AK` profiles
//! give `access_key_id` and `access_key_secret`, `StsToken` profiles also
//! `sts_token`. Reads the file only; holds nothing.

use std::path::{Path, PathBuf};

use kiln_sdk::Secret;
use serde::Deserialize;

use super::{AccessKey, ClientError};

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    profiles: Vec<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    #[serde(default)]
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
}

/// The CLI's default file: `$HOME/.aliyun/config.json`.
pub(super) fn default_path() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".aliyun").join("config.json")
}

/// `path` with a leading `~/` made the home directory, as Packer's
/// `homedir.Expand`.
pub(super) fn expand(path: &Path) -> PathBuf {
    match path.strip_prefix("~") {
        Ok(rest) => Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(rest),
        Err(_) => path.to_path_buf(),
    }
}

/// The AccessKey of profile `name` in the file at `path`.
pub(super) fn access_key(path: &Path, name: &str) -> Result<AccessKey, ClientError> {
    let fail = |message: String| ClientError::Profile {
        name: name.to_string(),
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let file: File =
        serde_json::from_str(&text).map_err(|e| fail(format!("it is not the CLI's JSON: {e}")))?;
    let p = file
        .profiles
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| fail("there is no profile of that name".into()))?;
    let token = match p.mode.as_str() {
        "AK" | "" => None,
        "StsToken" => Some(Secret::new(p.sts_token)),
        other => {
            return Err(fail(format!(
                "its mode `{other}` is not supported by kiln yet (only `AK` and `StsToken`)"
            )))
        }
    };
    if p.access_key_id.is_empty() || p.access_key_secret.is_empty() {
        return Err(fail(
            "it has no `access_key_id` and `access_key_secret`".into(),
        ));
    }
    Ok(AccessKey {
        id: p.access_key_id,
        secret: Secret::new(p.access_key_secret),
        security_token: token.filter(|t| !t.expose().is_empty()),
    })
}
