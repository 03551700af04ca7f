//! The UCloud API client: every action is a `POST` of a form to
//! `base_url` with `Action`, `Region`, `ProjectId`, `PublicKey` and the
//! action's parameters (lists as `Name.0`, `Name.1`, objects in lists as
//! `Name.0.Key`), signed with the private key ([`sign`]), over reqwest
//! (rustls) with kiln-cloud's request [`Timeouts`].
//!
//! kiln's retry policy governs: every call goes through a
//! [`kiln_cloud::Api`], which retries UCloud's throttling (RetCode 153,
//! kiln-cloud's `ucloud` row), its "service unavailable" (150), HTTP 5xx
//! and connection failures, bounds the requests in flight per endpoint and
//! words the final error. A reply with a RetCode other than 0 becomes a
//! [`Fault`] (code, message, class, a hint naming the action and what to
//! check); no message carries the private key. Unlike ucloud-sdk-go,
//! RetCodes from 2000 up are not retried blindly: they include "not found"
//! and "wrong state" answers that no retry mends. Holds a connection pool
//! only; nothing to clean up.

mod sign;

use std::collections::BTreeMap;
use std::path::Path;

use kiln_cloud::error::snippet;
use kiln_cloud::retry::classify_reply;
use kiln_cloud::{Api, ApiError, ErrorClass, Failure, Fault, RetryPolicy, Timeouts};
use kiln_sdk::Secret;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

pub use sign::signature;

use crate::config::{AccessConfig, Credentials};

/// An action's parameters (already in UCloud's flat encoding).
pub type Params = BTreeMap<String, String>;

/// `[(key, value)]` as [`Params`].
pub fn params<K: ToString, V: ToString>(pairs: impl IntoIterator<Item = (K, V)>) -> Params {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Why the client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The profile could not be read.
    #[error("cannot use the UCloud profile `{name}` of `{path}`: {message}\n  hint: check `profile` and `shared_credentials_file` (or `UCLOUD_PROFILE` and `UCLOUD_SHARED_CREDENTIAL_FILE`), or set `public_key` and `private_key`")]
    Profile {
        /// The profile.
        name: String,
        /// The credential file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// reqwest refused its settings.
    #[error("cannot set up the HTTP client for UCloud: {0}")]
    Http(String),
}

/// A UCloud API client for one project and region.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    api: Api,
    base: String,
    public_key: String,
    private_key: Secret<String>,
    region: String,
    project: String,
}

/// The envelope of every reply.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "RetCode", default)]
    ret_code: i64,
    #[serde(rename = "Message", default)]
    message: String,
}

/// One profile of `~/.ucloud/credential.json`.
#[derive(Deserialize)]
struct ProfileKeys {
    #[serde(default)]
    profile: String,
    #[serde(default)]
    public_key: String,
    #[serde(default)]
    private_key: String,
}

impl Client {
    /// The client of `access`'s project and region (reading the profile
    /// when the keys come from one).
    pub fn new(access: &AccessConfig) -> Result<Client, ClientError> {
        let (public_key, private_key) = match &access.credentials {
            Credentials::Keys {
                public_key,
                private_key,
            } => (public_key.clone(), private_key.clone()),
            Credentials::Profile(name) => {
                let path = access.shared_credentials_file.clone().unwrap_or_else(|| {
                    Path::new(&std::env::var("HOME").unwrap_or_default())
                        .join(".ucloud/credential.json")
                });
                profile_keys(&path, name)?
            }
        };
        let timeouts = Timeouts::from_env();
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.read)
            .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION"), " ucloud-uhost"))
            .build()
            .map_err(|e| ClientError::Http(e.without_url().to_string()))?;
        let setting = (access.base_url != crate::config::DEFAULT_BASE_URL).then_some("base_url");
        Ok(Client {
            http,
            api: Api::new("UCloud", &access.base_url, setting, RetryPolicy::default()),
            base: access.base_url.clone(),
            public_key,
            private_key,
            region: access.region.clone(),
            project: access.project_id.clone(),
        })
    }

    /// The same client for `project` and `region`.
    pub fn at(&self, project: &str, region: &str) -> Client {
        let mut c = self.clone();
        c.project = project.to_string();
        c.region = region.to_string();
        c
    }

    /// The client's region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The client's project.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// The public and private key the calls are signed with (for UFile's
    /// own token, which the `ucloud-import` post-processor signs).
    pub fn keys(&self) -> (&str, &Secret<String>) {
        (&self.public_key, &self.private_key)
    }

    /// The retry policy and endpoint the calls go through.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The signed form of `action` with `p` (the action's `Region` and
    /// `ProjectId` win over the client's).
    pub fn signed_form(&self, action: &str, p: &Params) -> Params {
        let mut all = params([
            ("Action", action),
            ("Region", self.region.as_str()),
            ("ProjectId", self.project.as_str()),
            ("PublicKey", self.public_key.as_str()),
        ]);
        all.extend(p.clone());
        let sig = signature(&all, self.private_key.expose());
        all.insert("Signature".into(), sig);
        all
    }

    /// Calls `action` under the retry policy and decodes the reply into
    /// `T`; `cancel` stops the waits between attempts.
    pub async fn call<T: DeserializeOwned>(
        &self,
        action: &str,
        p: &Params,
        cancel: Option<&CancellationToken>,
    ) -> Result<T, ApiError> {
        self.api
            .call(action, cancel, |_| self.attempt::<T>(action, p))
            .await
    }

    /// Calls a create `action` that stays right when a reply is lost
    /// ([`Api::create`]): on a retry, `find` is asked first and what it
    /// finds (made by the earlier attempt) is adopted.
    pub async fn create<T, L, LFut>(
        &self,
        action: &str,
        p: &Params,
        cancel: Option<&CancellationToken>,
        find: L,
    ) -> Result<T, ApiError>
    where
        T: DeserializeOwned,
        L: FnMut() -> LFut,
        LFut: std::future::Future<Output = Result<Option<T>, ApiError>>,
    {
        self.api
            .create(
                action,
                cancel,
                &[],
                true,
                || self.attempt::<T>(action, p),
                find,
            )
            .await
    }

    /// Calls a delete `action`; a `not_found` RetCode on a retry is done
    /// (`Ok(None)`): the earlier attempt deleted it.
    pub async fn delete(
        &self,
        action: &str,
        p: &Params,
        not_found: &[&str],
    ) -> Result<(), ApiError> {
        self.api
            .delete(action, None, not_found, || {
                self.attempt::<serde_json::Value>(action, p)
            })
            .await
            .map(|_| ())
    }

    /// One attempt of `action`.
    async fn attempt<T: DeserializeOwned>(&self, action: &str, p: &Params) -> Result<T, Fault> {
        let form = self.signed_form(action, p);
        let reply = self
            .http
            .post(&self.base)
            .form(&form)
            .send()
            .await
            .map_err(|e| kiln_cloud::error::transport_fault(&e, e.is_timeout(), e.is_connect()))?;
        let status = reply.status().as_u16();
        let body = reply
            .bytes()
            .await
            .map_err(|e| kiln_cloud::error::transport_fault(&e, e.is_timeout(), e.is_connect()))?;
        let not_api = |status: u16| {
            let failure = Failure::Http {
                status,
                body: snippet(&String::from_utf8_lossy(&body), 100),
            };
            let class = kiln_cloud::retry::classify_failure(&failure);
            let mut f = Fault::new(failure, class);
            f.hint = Some(format!(
                "`{action}` got an answer that is not UCloud's: check `base_url` (`{}`)",
                self.base
            ));
            f
        };
        if !(200..300).contains(&status) {
            return Err(not_api(status));
        }
        let envelope: Envelope = serde_json::from_slice(&body).map_err(|_| not_api(status))?;
        if envelope.ret_code != 0 {
            return Err(ret_code_fault(action, envelope.ret_code, &envelope.message));
        }
        kiln_cloud::error::json_reply(
            &format!("the reply to `{action}`"),
            &body,
            ErrorClass::Transient,
        )
    }
}

/// The [`Fault`] of a reply with RetCode `code`: its class from
/// kiln-cloud's table and a hint for the codes a user can act on.
pub fn ret_code_fault(action: &str, code: i64, message: &str) -> Fault {
    let code_text = code.to_string();
    let class = classify_reply("ucloud", Some(&code_text), None);
    let mut f = Fault::new(
        Failure::Service {
            code: code_text,
            message: message.to_string(),
            status: Some(200),
        },
        class,
    );
    f.hint = match code {
        170..=172 => Some(format!(
            "`{action}` was refused: check `public_key` and `private_key` (or `UCLOUD_PUBLIC_KEY` and `UCLOUD_PRIVATE_KEY`) and `project_id`"
        )),
        _ => None,
    };
    f
}

/// The keys of profile `name` in the credential file at `path`.
fn profile_keys(path: &Path, name: &str) -> Result<(String, Secret<String>), ClientError> {
    let err = |message: String| ClientError::Profile {
        name: name.to_string(),
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let all: Vec<ProfileKeys> =
        serde_json::from_str(&text).map_err(|e| err(format!("not a credential file: {e}")))?;
    let p = all
        .into_iter()
        .find(|p| p.profile == name)
        .ok_or_else(|| err("no such profile".into()))?;
    if p.public_key.is_empty() || p.private_key.is_empty() {
        return Err(err(
            "the profile has no `public_key` and `private_key`".into()
        ));
    }
    Ok((p.public_key, Secret::new(p.private_key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_cloud::Classify;

    #[test]
    fn throttling_and_unavailable_are_retried_other_codes_are_not() {
        assert_eq!(ret_code_fault("A", 153, "").class(), ErrorClass::Throttled);
        assert_eq!(ret_code_fault("A", 150, "").class(), ErrorClass::Transient);
        for code in [170, 171, 230, 8011, 8020, 8039] {
            assert_eq!(ret_code_fault("A", code, "").class(), ErrorClass::Permanent);
        }
        assert!(ret_code_fault("A", 170, "")
            .hint
            .unwrap()
            .contains("`private_key`"));
    }

    #[test]
    fn the_form_is_signed_over_every_parameter_and_the_private_key_stays_out() {
        let access = AccessConfig {
            region: "cn-bj2".into(),
            project_id: "org-kiln".into(),
            base_url: "http://127.0.0.1:1".into(),
            credentials: Credentials::Keys {
                public_key: "pub".into(),
                private_key: Secret::new("priv".into()),
            },
            shared_credentials_file: None,
        };
        let c = Client::new(&access).unwrap();
        let f = c.signed_form("DescribeImage", &params([("ImageId", "uimage-1")]));
        let mut unsigned = f.clone();
        let sig = unsigned.remove("Signature").unwrap();
        assert_eq!(sig, signature(&unsigned, "priv"));
        assert_eq!(f["Region"], "cn-bj2");
        assert_eq!(f["ProjectId"], "org-kiln");
        assert!(!f.values().any(|v| v == "priv"));
        let other = c
            .at("org-copy", "cn-sh2")
            .signed_form("DescribeImage", &Params::new());
        assert_eq!(
            (other["ProjectId"].as_str(), other["Region"].as_str()),
            ("org-copy", "cn-sh2")
        );
        assert!(!format!("{c:?}").contains("priv\""));
    }

    #[test]
    fn a_profile_gives_its_keys() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("credential.json");
        std::fs::write(
            &path,
            r#"[{"profile":"default","public_key":"p","private_key":"s"}]"#,
        )
        .unwrap();
        let (p, s) = profile_keys(&path, "default").unwrap();
        assert_eq!((p.as_str(), s.expose().as_str()), ("p", "s"));
        let e = profile_keys(&path, "other").unwrap_err().to_string();
        assert!(e.contains("no such profile"), "{e}");
    }
}
