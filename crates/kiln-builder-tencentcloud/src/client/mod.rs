//! The Tencent Cloud API 3.0 client: a POST of the action's JSON body to
//! `https://<service>.tencentcloudapi.com/` (or kiln's
//! `KILN_TENCENTCLOUD_ENDPOINT`) with `X-TC-Action`, `X-TC-Version`,
//! `X-TC-Timestamp`, `X-TC-Region` and `X-TC-Token`, signed with
//! TC3-HMAC-SHA256 ([`sign`]), over reqwest (rustls) with kiln-cloud's
//! request [`Timeouts`].
//!
//! kiln's retry policy governs: every call goes through a
//! [`kiln_cloud::Api`], which retries throttling (kiln-cloud's
//! `tencentcloud` codes: `RequestLimitExceeded…`), `InternalError`, an
//! operation still running on the instance, 5xx replies and connection
//! failures, bounds the requests in flight per endpoint and words the
//! final error ([`fault`]). No message carries the secret key or the
//! token. Holds a connection pool only; nothing to clean up.

mod fault;
pub mod sign;

use kiln_cloud::retry::deleted;
use kiln_cloud::{Api, ApiError, RetryPolicy, Timeouts};
use kiln_sdk::Secret;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use fault::{transport_fault, BUSY_CODES};

use crate::config::AccessConfig;

/// A Tencent Cloud service kiln calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Cloud Virtual Machine (2017-03-12).
    Cvm,
    /// Virtual Private Cloud (2017-03-12).
    Vpc,
    /// Tags (2018-08-13): tags of images and their copies.
    Tag,
}

impl Service {
    /// Its name in host names and credential scopes.
    pub fn name(self) -> &'static str {
        match self {
            Service::Cvm => "cvm",
            Service::Vpc => "vpc",
            Service::Tag => "tag",
        }
    }

    /// Its API version.
    pub fn version(self) -> &'static str {
        match self {
            Service::Cvm | Service::Vpc => "2017-03-12",
            Service::Tag => "2018-08-13",
        }
    }
}

/// A SecretId and SecretKey, with the token of temporary credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The SecretId.
    pub secret_id: String,
    /// The SecretKey.
    pub secret_key: Secret<String>,
    /// The token (`X-TC-Token`).
    pub token: Option<Secret<String>>,
}

impl Credential {
    /// The credential of `access`.
    pub fn of(access: &AccessConfig) -> Credential {
        Credential {
            secret_id: access.secret_id.clone(),
            secret_key: access.secret_key.clone(),
            token: access.security_token.clone(),
        }
    }
}

/// Why a client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot set up the HTTP client for Tencent Cloud: {0}")]
    Http(String),
}

/// A client of one service in one region. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    api: Api,
    service: Service,
    region: String,
    credential: Credential,
    /// The base URL (`https://cvm.tencentcloudapi.com`).
    base: String,
    /// `KILN_TENCENTCLOUD_ENDPOINT`, kept for other services and regions.
    custom: Option<String>,
}

/// The URL of `service`: `custom` when given, else the central host name
/// (as tencentcloud-sdk-go calls it).
pub fn endpoint(service: Service, custom: Option<&str>) -> String {
    match custom {
        Some(c) => c.to_string(),
        None => format!("https://{}.tencentcloudapi.com", service.name()),
    }
}

impl Client {
    /// A client of `service` in `region` as `credential`; `custom` (a URL)
    /// replaces the endpoint.
    pub fn new(
        service: Service,
        region: &str,
        credential: Credential,
        custom: Option<&str>,
        policy: RetryPolicy,
        timeouts: Timeouts,
    ) -> Result<Client, ClientError> {
        let base = endpoint(service, custom);
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.read)
            .user_agent(concat!(
                "kiln/",
                env!("CARGO_PKG_VERSION"),
                " tencentcloud-cvm"
            ))
            .build()
            .map_err(|e| ClientError::Http(e.without_url().to_string()))?;
        let api = Api::new(service.name(), &base, None, policy);
        Ok(Client {
            http,
            api,
            service,
            region: region.to_string(),
            credential,
            base,
            custom: custom.map(String::from),
        })
    }

    /// The `service` client of `access`'s region and endpoint, under the
    /// default retry policy and timeouts.
    pub fn of(service: Service, access: &AccessConfig) -> Result<Client, ClientError> {
        Client::new(
            service,
            &access.region,
            Credential::of(access),
            access.endpoint.as_deref(),
            RetryPolicy::default(),
            Timeouts::from_env(),
        )
    }

    /// The same client for `service` (same region, credential, endpoint
    /// override and connection pool).
    pub fn service(&self, service: Service) -> Client {
        let mut c = self.clone();
        c.service = service;
        c.base = endpoint(service, self.custom.as_deref());
        c.api = Api::new(service.name(), &c.base, None, self.api.policy());
        c
    }

    /// The same client for `region` (region copies).
    pub fn for_region(&self, region: &str) -> Client {
        let mut c = self.clone();
        c.region = region.to_string();
        c
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint's [`Api`].
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The host (and port) the requests go to, as signed: the `Host`
    /// header the HTTP client sends (no port when it is the scheme's
    /// default, as `http://127.0.0.1:80`).
    fn host(&self) -> String {
        match reqwest::Url::parse(&self.base) {
            Ok(u) => match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                _ => String::new(),
            },
            Err(_) => self.base.clone(),
        }
    }

    /// The signed headers of a POST of `body` for `action` at `timestamp`
    /// (seconds since the epoch).
    pub fn signed_headers(
        &self,
        action: &str,
        body: &[u8],
        timestamp: i64,
    ) -> Vec<(String, String)> {
        let date = chrono::DateTime::from_timestamp(timestamp, 0)
            .unwrap_or_default()
            .format("%Y-%m-%d")
            .to_string();
        let service = self.service.name();
        let canonical = sign::canonical_request(&self.host(), body);
        let sts = sign::string_to_sign(timestamp, &date, service, &canonical);
        let signature = sign::signature(self.credential.secret_key.expose(), &date, service, &sts);
        let mut h = vec![
            (
                "Authorization".to_string(),
                sign::authorization(&self.credential.secret_id, &date, service, &signature),
            ),
            ("Content-Type".into(), sign::CONTENT_TYPE.into()),
            ("X-TC-Action".into(), action.into()),
            ("X-TC-Version".into(), self.service.version().into()),
            ("X-TC-Timestamp".into(), timestamp.to_string()),
            ("X-TC-Region".into(), self.region.clone()),
        ];
        if let Some(t) = &self.credential.token {
            h.push(("X-TC-Token".into(), t.expose().clone()));
        }
        h
    }

    /// Calls `action` with `body` under the retry policy; the reply's
    /// `Response`. Each attempt is signed anew. `cancel` stops the waits
    /// between attempts.
    pub async fn call(
        &self,
        action: &str,
        body: &Value,
        cancel: Option<&CancellationToken>,
    ) -> Result<Value, ApiError> {
        self.api
            .call(action, cancel, |_| self.attempt(action, body))
            .await
    }

    /// Calls a create `action` that stays right when a reply is lost
    /// ([`Api::create`]): on a retry, an error with a `duplicate` code (or,
    /// with `look_first`, anything before retrying) adopts what `find`
    /// finds. Creates that take a `ClientToken` get the same one on every
    /// attempt.
    pub async fn create<L, LFut>(
        &self,
        action: &str,
        body: &Value,
        duplicate: &[&str],
        look_first: bool,
        find: L,
    ) -> Result<Value, ApiError>
    where
        L: FnMut() -> LFut,
        LFut: std::future::Future<Output = Result<Option<Value>, ApiError>>,
    {
        self.api
            .create(
                action,
                None,
                duplicate,
                look_first,
                || self.attempt(action, body),
                find,
            )
            .await
    }

    /// Calls a delete `action`; one already gone (`not_found`) is done.
    pub async fn delete(
        &self,
        action: &str,
        body: &Value,
        not_found: &[&str],
    ) -> Result<(), ApiError> {
        let r = self
            .api
            .delete(action, None, not_found, || self.attempt(action, body));
        deleted(r.await, not_found)
    }

    /// One attempt of `action`.
    async fn attempt(&self, action: &str, body: &Value) -> Result<Value, kiln_cloud::Fault> {
        let payload = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
        let mut req = self.http.post(format!("{}/", self.base));
        for (k, v) in self.signed_headers(action, &payload, chrono::Utc::now().timestamp()) {
            req = req.header(k, v);
        }
        let reply = req
            .body(payload)
            .send()
            .await
            .map_err(|e| transport_fault(&e))?;
        let status = reply.status().as_u16();
        let bytes = reply.bytes().await.map_err(|e| transport_fault(&e))?;
        if !(200..300).contains(&status) {
            return Err(fault::http_fault(status, &bytes));
        }
        let v: Value =
            serde_json::from_slice(&bytes).map_err(|_| fault::http_fault(status, &bytes))?;
        let called = format!(
            "{} `{action}` at `{}` (region `{}`)",
            self.service.name(),
            self.api.endpoint(),
            self.region
        );
        if let Some(f) = fault::error_fault(&v, &called) {
            return Err(f);
        }
        Ok(v["Response"].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(custom: Option<&str>) -> Client {
        Client::new(
            Service::Cvm,
            "ap-guangzhou",
            Credential {
                secret_id: "AKID".into(),
                secret_key: Secret::new("SK".into()),
                token: Some(Secret::new("tok".into())),
            },
            custom,
            RetryPolicy::default(),
            Timeouts::from_env(),
        )
        .unwrap()
    }

    #[test]
    fn requests_are_signed_for_their_service_host_and_region() {
        let c = client(None);
        assert_eq!(c.host(), "cvm.tencentcloudapi.com");
        let h: std::collections::BTreeMap<String, String> = c
            .signed_headers("DescribeZones", b"{}", 1767225600)
            .into_iter()
            .collect();
        assert_eq!(h["X-TC-Action"], "DescribeZones");
        assert_eq!(h["X-TC-Version"], "2017-03-12");
        assert_eq!(h["X-TC-Region"], "ap-guangzhou");
        assert_eq!(h["X-TC-Token"], "tok");
        let canonical = sign::canonical_request("cvm.tencentcloudapi.com", b"{}");
        let sts = sign::string_to_sign(1767225600, "2026-01-01", "cvm", &canonical);
        let sig = sign::signature("SK", "2026-01-01", "cvm", &sts);
        assert_eq!(
            h["Authorization"],
            sign::authorization("AKID", "2026-01-01", "cvm", &sig)
        );
        let vpc = c.service(Service::Vpc);
        assert_eq!(vpc.host(), "vpc.tencentcloudapi.com");
        let custom = client(Some("http://127.0.0.1:8080")).service(Service::Tag);
        assert_eq!(custom.host(), "127.0.0.1:8080");
        // The default port is not in the Host header reqwest sends.
        assert_eq!(client(Some("http://127.0.0.1:80")).host(), "127.0.0.1");
        assert_eq!(
            client(Some("https://example.com:443/")).host(),
            "example.com"
        );
        assert_eq!(custom.service.version(), "2018-08-13");
        assert!(format!("{c:?}").contains("REDACTED") || !format!("{c:?}").contains("SK\""));
    }
}
