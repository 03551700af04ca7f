//! The Huawei Cloud API client: JSON calls to ECS, IMS, VPC, EIP and IAM,
//! each signed with SDK-HMAC-SHA256 (`sign`) over `Host`, `X-Sdk-Date`,
//! `X-Project-Id` (not for IAM) and `Content-Type`, sent over reqwest (rustls) with
//! kiln-cloud's request [`Timeouts`] to the service's endpoint
//! ([`Endpoints`]).
//!
//! kiln's retry policy governs: every call goes through the service's
//! [`kiln_cloud::Api`], which retries throttling (kiln-cloud's
//! `huaweicloud` codes and HTTP 429), 5xx replies and connection
//! failures, bounds the requests in flight per endpoint and words the
//! final error; each attempt is signed anew. An error reply becomes a
//! [`Fault`] (`fault`). No message carries the secret key. Holds a
//! connection pool only; nothing to clean up.

mod fault;
pub mod sign;

use std::collections::BTreeMap;

use kiln_cloud::{Api, ApiError, ErrorClass, Failure, Fault, RetryPolicy, Timeouts};
use kiln_sdk::Secret;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use fault::{code_and_message, reply_fault, AUTH_CODES};

use crate::config::{AccessConfig, Endpoints, Service};

/// Why a client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot set up the HTTP client for Huawei Cloud: {0}")]
    Http(String),
}

/// One API call (kiln-cloud's REST call): the operation (named as
/// Huawei's SDKs name it), the service, the method, the path
/// (`/v1/{project_id}/cloudservers`, project filled in) and query, and
/// the JSON body.
pub type Call = kiln_cloud::rest::Call<Service>;

/// A client of Huawei Cloud in one region and project. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    access_key: String,
    secret_key: Secret<String>,
    project_id: String,
    region: String,
    endpoints: Endpoints,
    apis: BTreeMap<Service, Api>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("access_key", &self.access_key)
            .field("project_id", &self.project_id)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The client of `access`, under `policy`.
    pub fn new(access: &AccessConfig, policy: RetryPolicy) -> Result<Client, ClientError> {
        let timeouts = Timeouts::from_env();
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.read)
            .danger_accept_invalid_certs(access.insecure)
            .user_agent(concat!(
                "kiln/",
                env!("CARGO_PKG_VERSION"),
                " huaweicloud-ecs"
            ))
            .build()
            .map_err(|e| ClientError::Http(e.without_url().to_string()))?;
        let apis = Service::ALL
            .iter()
            .map(|s| {
                (
                    *s,
                    Api::new(
                        s.name(),
                        access.endpoints.get(*s),
                        Some("endpoints"),
                        policy,
                    ),
                )
            })
            .collect();
        Ok(Client {
            http,
            access_key: access.access_key.clone(),
            secret_key: access
                .secret_key
                .clone()
                .unwrap_or_else(|| Secret::new(String::new())),
            project_id: access.project_id.clone(),
            region: access.region.clone(),
            endpoints: access.endpoints.clone(),
            apis,
        })
    }

    /// The project.
    pub fn project(&self) -> &str {
        &self.project_id
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// `/v1/{project_id}` and the like: `prefix` with the project.
    pub fn path(&self, prefix: &str, rest: &str) -> String {
        format!("{prefix}/{}{rest}", self.project_id)
    }

    /// Sends `call` under the retry policy; its JSON answer (`null` for
    /// an empty one). `cancel` stops the waits between attempts.
    pub async fn call(
        &self,
        call: &Call,
        cancel: Option<&CancellationToken>,
    ) -> Result<Value, ApiError> {
        self.apis[&call.service]
            .call(call.op, cancel, |_| self.attempt(call))
            .await
    }

    /// A create that stays right when a reply is lost ([`Api::create`]):
    /// on a retry, `find` is asked first (the earlier attempt may have
    /// made it); its answer is adopted.
    pub async fn create<L, LFut>(&self, call: &Call, find: L) -> Result<Value, ApiError>
    where
        L: FnMut() -> LFut,
        LFut: std::future::Future<Output = Result<Option<Value>, Fault>>,
    {
        self.apis[&call.service]
            .create(call.op, None, &[], true, || self.attempt(call), find)
            .await
    }

    /// A delete: one the service no longer knows (`404`) is deleted.
    pub async fn delete(&self, call: &Call) -> Result<(), ApiError> {
        match self.call(call, None).await {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// One attempt of `call`, signed now.
    async fn attempt(&self, call: &Call) -> Result<Value, Fault> {
        let base = self.endpoints.get(call.service);
        let url = reqwest::Url::parse(&format!("{base}{}", call.path)).map_err(|e| {
            Fault::new(
                Failure::Other(format!("bad endpoint URL `{base}`: {e}")),
                ErrorClass::Permanent,
            )
        })?;
        let host = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
            None => url.host_str().unwrap_or("").to_string(),
        };
        let body = call
            .body
            .as_ref()
            .map(|b| serde_json::to_vec(b).expect("JSON serialises"))
            .unwrap_or_default();
        let date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let content_type = if call.method == reqwest::Method::PATCH {
            "application/openstack-images-v2.1-json-patch"
        } else {
            "application/json"
        };
        let mut headers = vec![
            ("content-type".to_string(), content_type.to_string()),
            ("host".to_string(), host),
        ];
        // IAM is called with the account's (global) credentials: no project.
        if call.service != Service::Iam {
            headers.push(("x-project-id".to_string(), self.project_id.clone()));
        }
        headers.push(("x-sdk-date".to_string(), date.clone()));
        // As the SDK does, a body that is not JSON is signed as
        // `UNSIGNED-PAYLOAD`.
        let sts = if content_type == "application/json" {
            sign::string_to_sign(
                call.method.as_str(),
                url.path(),
                &call.query,
                &headers,
                &body,
                &date,
            )
        } else {
            headers.push(("x-sdk-content-sha256".into(), "UNSIGNED-PAYLOAD".into()));
            sign::string_to_sign_unsigned(
                call.method.as_str(),
                url.path(),
                &call.query,
                &headers,
                &date,
            )
        };
        let auth = sign::authorization(&self.access_key, self.secret_key.expose(), &headers, &sts);
        let mut req = self
            .http
            .request(call.method.clone(), url)
            .query(&call.query);
        for (k, v) in &headers {
            if k != "host" {
                req = req.header(k.as_str(), v.as_str());
            }
        }
        req = req.header("authorization", auth);
        if !body.is_empty() {
            req = req.body(body);
        }
        let reply = req
            .send()
            .await
            .map_err(|e| kiln_cloud::error::transport_fault(&e, e.is_timeout(), e.is_connect()))?;
        let status = reply.status().as_u16();
        let request_id = reply
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let bytes = reply
            .bytes()
            .await
            .map_err(|e| kiln_cloud::error::transport_fault(&e, e.is_timeout(), e.is_connect()))?;
        if (200..300).contains(&status) {
            return kiln_cloud::error::json_or_empty_reply(&bytes);
        }
        Err(reply_fault(status, &bytes, request_id.as_deref()))
    }
}

/// Whether `e` says the thing is gone (HTTP 404).
pub fn not_found(e: &ApiError) -> bool {
    matches!(
        e.fault.failure,
        Failure::Service {
            status: Some(404),
            ..
        } | Failure::Http { status: 404, .. }
    )
}

/// The HTTP status of `e`'s reply, if it got one.
pub fn status(e: &ApiError) -> Option<u16> {
    match e.fault.failure {
        Failure::Service { status, .. } => status,
        Failure::Http { status, .. } => Some(status),
        _ => None,
    }
}
