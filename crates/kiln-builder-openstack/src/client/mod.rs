//! The OpenStack API client: Keystone v3 authentication, the service
//! catalog, and JSON calls to Nova (`compute`), Glance (`image`), Neutron
//! (`network`) and Cinder (`volumev3`/`block-storage`), each carrying the
//! token in `X-Auth-Token`.
//!
//! The token is fetched once (`POST {auth_url}/v3/auth/tokens` with the
//! password, token or application credential of the access settings, and
//! their scope) and shared by every call and every clone of the client; it
//! is fetched again when it is about to expire (a minute before its
//! `expires_at`) or when a service answers 401 (a revoked or expired
//! token), once per stale token however many calls see it. Every endpoint
//! comes from the token's catalog: the service's endpoint of the
//! configured interface (`endpoint_type`) and region; no port or path is
//! assumed beyond the API version a catalog entry may leave out.
//!
//! kiln's retry policy governs: every call goes through its service's
//! [`kiln_cloud::Api`], which retries throttling (HTTP 429), 5xx replies
//! and connection failures, bounds the requests in flight per endpoint and
//! words the final error. An error reply becomes a [`Fault`] (`fault`). No
//! message carries the password, token or secret. Holds a connection pool
//! and the token; nothing to clean up.

mod fault;
#[cfg(test)]
mod tests_keystone;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kiln_cloud::{Api, ApiError, ErrorClass, Failure, Fault, RetryPolicy, Timeouts};
use kiln_sdk::Secret;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

pub use fault::{code_and_message, reply_fault};

use crate::config::{AccessConfig, Credential, Domain, Interface, Scope, User};

/// An OpenStack service, as the catalog types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// Keystone.
    Identity,
    /// Nova.
    Compute,
    /// Glance.
    Image,
    /// Neutron.
    Network,
    /// Cinder.
    BlockStorage,
}

impl Service {
    /// The catalog types it may be listed under, preferred first.
    pub fn catalog_types(self) -> &'static [&'static str] {
        match self {
            Service::Identity => &["identity"],
            Service::Compute => &["compute"],
            Service::Image => &["image"],
            Service::Network => &["network"],
            Service::BlockStorage => &["volumev3", "block-storage", "block_storage"],
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Service::Identity => "Keystone",
            Service::Compute => "Nova",
            Service::Image => "Glance",
            Service::Network => "Neutron",
            Service::BlockStorage => "Cinder",
        }
    }

    /// The names of its `<service>_endpoint_override` in clouds.yaml.
    fn override_names(self) -> &'static [&'static str] {
        match self {
            Service::Identity => &["identity"],
            Service::Compute => &["compute"],
            Service::Image => &["image"],
            Service::Network => &["network"],
            Service::BlockStorage => &["block_storage", "volumev3", "volume"],
        }
    }

    /// The API version a catalog URL without one gets (Glance and Neutron
    /// list the service's root).
    fn version_suffix(self) -> Option<&'static str> {
        match self {
            Service::Image => Some("v2"),
            Service::Network => Some("v2.0"),
            _ => None,
        }
    }
}

/// Why a client could not be made or could not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot set up the HTTP client for OpenStack: {0}")]
    Http(String),
    /// Keystone refused or could not be reached.
    #[error("cannot authenticate with Keystone at `{url}`: {error}")]
    Auth {
        /// Keystone's token URL.
        url: String,
        /// Why.
        error: Box<ApiError>,
    },
    /// The token's catalog lacks a service.
    #[error("{0}")]
    Catalog(String),
}

/// One API call (kiln-cloud's REST call): the operation (for messages),
/// the service, the method, the path below the service's endpoint (or a
/// whole URL: a pagination link) and query, and the JSON body.
pub type Call = kiln_cloud::rest::Call<Service>;

/// Glance's `PATCH` of image `id` with JSON-patch `ops`.
pub fn patch_image(op: &'static str, id: &str, ops: Value) -> Call {
    Call::get(Service::Image, op, format!("/images/{id}"))
        .with(reqwest::Method::PATCH, ops)
        .content_type("application/openstack-images-v2.1-json-patch")
}

/// A successful reply: its JSON body (`null` when empty) and its
/// `Location` header (Nova's `createImage` answers with it).
#[derive(Debug, Clone)]
pub struct Reply {
    /// The body.
    pub body: Value,
    /// The `Location` header.
    pub location: Option<String>,
}

/// A Keystone token and what came with it.
#[derive(Clone)]
struct Token {
    id: Secret<String>,
    /// When it is to be replaced: a minute before it expires, or halfway
    /// through a shorter life.
    renew_at: Option<DateTime<Utc>>,
    catalog: Value,
    project_id: Option<String>,
}

/// A client of one cloud, as one user in one project and region. Cheap to
/// clone: clones share the token and the endpoints.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    access: AccessConfig,
    policy: RetryPolicy,
    identity: Api,
    tokens_url: String,
    token: Mutex<Option<Token>>,
    /// The endpoint and API of each service, from the first token's
    /// catalog.
    endpoints: std::sync::Mutex<BTreeMap<Service, (String, Api)>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("auth_url", &self.inner.access.auth_url)
            .field("region", &self.inner.access.region)
            .finish_non_exhaustive()
    }
}

/// How long before its expiry a token is replaced.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// Keystone's token URL for `auth_url`: the URL itself when it names
/// `/v3`, else `/v3` below it.
pub fn tokens_url(auth_url: &str) -> String {
    let base = auth_url.trim_end_matches('/');
    if base.ends_with("/v3") {
        format!("{base}/auth/tokens")
    } else {
        format!("{base}/v3/auth/tokens")
    }
}

fn domain_json(d: &Domain) -> Value {
    match d {
        Domain::Id(id) => json!({"id": id}),
        Domain::Name(n) => json!({"name": n}),
    }
}

fn user_json(u: &User) -> Value {
    match u {
        User::Id(id) => json!({"id": id}),
        User::Name { name, domain } => json!({"name": name, "domain": domain_json(domain)}),
    }
}

/// The body of Keystone's `POST /v3/auth/tokens` for `access`.
pub fn auth_body(access: &AccessConfig) -> Value {
    let identity = match &access.credential {
        Credential::Password { user, password } => {
            let mut u = user_json(user);
            u["password"] = json!(password.expose());
            json!({"methods": ["password"], "password": {"user": u}})
        }
        Credential::Token(t) => json!({"methods": ["token"], "token": {"id": t.expose()}}),
        Credential::ApplicationCredential { id, name, secret } => {
            let mut c = json!({"secret": secret.expose()});
            if let Some(id) = id {
                c["id"] = json!(id);
            } else if let Some((name, user)) = name {
                c["name"] = json!(name);
                c["user"] = user_json(user);
            }
            json!({"methods": ["application_credential"], "application_credential": c})
        }
    };
    let mut auth = json!({"identity": identity});
    match &access.scope {
        Scope::ProjectId(id) => auth["scope"] = json!({"project": {"id": id}}),
        Scope::ProjectName { name, domain } => {
            let mut p = json!({"name": name});
            if let Some(d) = domain {
                p["domain"] = domain_json(d);
            }
            auth["scope"] = json!({"project": p});
        }
        Scope::Domain(d) => auth["scope"] = json!({"domain": domain_json(d)}),
        Scope::None => {}
    }
    json!({"auth": auth})
}

/// The endpoint of `service` in `catalog` for `interface` and `region`.
pub fn find_endpoint(
    catalog: &Value,
    service: Service,
    interface: Interface,
    region: Option<&str>,
) -> Option<String> {
    let entries = catalog.as_array()?;
    for kind in service.catalog_types() {
        for entry in entries.iter().filter(|e| e["type"].as_str() == Some(kind)) {
            let found = entry["endpoints"].as_array()?.iter().find(|ep| {
                ep["interface"].as_str() == Some(interface.as_str())
                    && region.is_none_or(|r| {
                        ep["region_id"].as_str() == Some(r) || ep["region"].as_str() == Some(r)
                    })
            });
            if let Some(ep) = found {
                return Some(versioned(service, ep["url"].as_str()?));
            }
        }
    }
    None
}

/// `url` with the API version `service` needs when it names none.
fn versioned(service: Service, url: &str) -> String {
    let url = url.trim_end_matches('/').to_string();
    match service.version_suffix() {
        Some(v)
            if !url
                .rsplit('/')
                .next()
                .is_some_and(|last| last.starts_with('v')) =>
        {
            format!("{url}/{v}")
        }
        _ => url,
    }
}

impl Client {
    /// The client of `access`, under `policy`; nothing is sent yet.
    pub fn new(access: &AccessConfig, policy: RetryPolicy) -> Result<Client, ClientError> {
        let timeouts = Timeouts::from_env();
        let mut b = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.read)
            .danger_accept_invalid_certs(access.insecure)
            .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION"), " openstack"));
        if let Some(ca) = &access.cacert {
            let pem = std::fs::read(ca).map_err(|e| {
                ClientError::Http(format!("cannot read `cacert` `{}`: {e}", ca.display()))
            })?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ClientError::Http(format!("bad `cacert` `{}`: {e}", ca.display())))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        if let Some((cert, key)) = &access.client_cert {
            let mut pem = std::fs::read(cert).map_err(|e| {
                ClientError::Http(format!("cannot read `cert` `{}`: {e}", cert.display()))
            })?;
            pem.extend(std::fs::read(key).map_err(|e| {
                ClientError::Http(format!("cannot read `key` `{}`: {e}", key.display()))
            })?);
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                ClientError::Http(format!(
                    "bad client certificate `{}` or key `{}`: {e}",
                    cert.display(),
                    key.display()
                ))
            })?;
            b = b.identity(id);
        }
        let http = b
            .build()
            .map_err(|e| ClientError::Http(e.without_url().to_string()))?;
        let tokens_url = tokens_url(&access.auth_url);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                identity: Api::new(
                    "Keystone",
                    &access.auth_url,
                    Some("identity_endpoint"),
                    policy,
                ),
                access: access.clone(),
                policy,
                tokens_url,
                token: Mutex::new(None),
                endpoints: std::sync::Mutex::new(BTreeMap::new()),
            }),
        })
    }

    /// The region asked for (`None`: any).
    pub fn region(&self) -> Option<&str> {
        self.inner.access.region.as_deref()
    }

    /// Authenticates now (the build's first call), so that bad
    /// credentials fail before anything else.
    pub async fn authenticate(&self, cancel: &CancellationToken) -> Result<(), ClientError> {
        self.token(None, Some(cancel)).await.map(drop)
    }

    /// The project the token is scoped to.
    pub async fn project_id(&self) -> Option<String> {
        self.inner
            .token
            .lock()
            .await
            .as_ref()
            .and_then(|t| t.project_id.clone())
    }

    /// A valid token: the current one, unless it is `stale` (a service
    /// refused it) or about to expire; then a new one.
    async fn token(
        &self,
        stale: Option<&str>,
        cancel: Option<&CancellationToken>,
    ) -> Result<Token, ClientError> {
        let mut slot = self.inner.token.lock().await;
        if let Some(t) = slot.as_ref() {
            let expiring = t.renew_at.is_some_and(|at| at <= Utc::now());
            let refused = stale.is_some_and(|s| s == t.id.expose());
            if !expiring && !refused {
                return Ok(t.clone());
            }
        }
        let token = self.issue(cancel).await?;
        *slot = Some(token.clone());
        Ok(token)
    }

    /// Asks Keystone for a token.
    async fn issue(&self, cancel: Option<&CancellationToken>) -> Result<Token, ClientError> {
        let body = serde_json::to_vec(&auth_body(&self.inner.access)).expect("JSON serialises");
        let inner = &self.inner;
        let (id, v) = inner
            .identity
            .call("CreateToken", cancel, |_| async {
                let reply = inner
                    .http
                    .post(&inner.tokens_url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        kiln_cloud::error::transport_fault(&e, e.is_timeout(), e.is_connect())
                    })?;
                let status = reply.status().as_u16();
                let id = reply
                    .headers()
                    .get("x-subject-token")
                    .and_then(|v| v.to_str().ok())
                    .map(String::from);
                let bytes = reply.bytes().await.map_err(|e| {
                    kiln_cloud::error::transport_fault(&e, e.is_timeout(), e.is_connect())
                })?;
                if !(200..300).contains(&status) {
                    return Err(reply_fault(status, &bytes));
                }
                let v: Value = kiln_cloud::error::json_reply(
                    "Keystone's reply",
                    &bytes,
                    ErrorClass::Permanent,
                )?;
                let id = id.ok_or_else(|| {
                    Fault::new(
                        Failure::Other("Keystone's reply has no `X-Subject-Token`".into()),
                        ErrorClass::Permanent,
                    )
                })?;
                Ok((id, v))
            })
            .await
            .map_err(|e| ClientError::Auth {
                url: inner.tokens_url.clone(),
                error: Box::new(e),
            })?;
        let t = &v["token"];
        let issued = Utc::now();
        let expires = t["expires_at"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&Utc));
        let token = Token {
            id: Secret::new(id),
            renew_at: expires.map(|e| {
                let margin = chrono::Duration::from_std(RENEW_BEFORE)
                    .unwrap_or_default()
                    .min((e - issued) / 2);
                e - margin
            }),
            catalog: t["catalog"].clone(),
            project_id: t["project"]["id"].as_str().map(String::from),
        };
        Ok(token)
    }

    /// The endpoint and API of `service`, from the catalog.
    async fn endpoint(&self, service: Service) -> Result<(String, Api), Fault> {
        if let Some(e) = self
            .inner
            .endpoints
            .lock()
            .expect("not poisoned")
            .get(&service)
        {
            return Ok(e.clone());
        }
        let a = &self.inner.access;
        let overridden = service
            .override_names()
            .iter()
            .find_map(|n| a.endpoint_overrides.get(*n))
            .map(|u| versioned(service, u));
        let token = match overridden {
            Some(_) => None,
            None => Some(self.token(None, None).await.map_err(auth_fault)?),
        };
        let catalog = token.as_ref().map(|t| &t.catalog).unwrap_or(&Value::Null);
        let url = overridden
            .or_else(|| find_endpoint(catalog, service, a.interface, a.region.as_deref()))
            .ok_or_else(|| {
                let region = a
                    .region
                    .as_deref()
                    .map(|r| format!(" in region `{r}`"))
                    .unwrap_or_default();
                let why = if catalog.as_array().is_none_or(|c| c.is_empty()) {
                    " (the token has no catalog at all: is it scoped to a project? set `tenant_name` or `tenant_id`)".to_string()
                } else {
                    String::new()
                };
                Fault::new(
                    Failure::Other(format!(
                        "the service catalog has no {} `{}` endpoint of type {}{region}{why}",
                        a.interface.as_str(),
                        service.name(),
                        service
                            .catalog_types()
                            .iter()
                            .map(|t| format!("`{t}`"))
                            .collect::<Vec<_>>()
                            .join(" or "),
                    )),
                    ErrorClass::Permanent,
                )
            })?;
        let api = Api::new(service.name(), &url, None, self.inner.policy);
        let e = (url, api);
        self.inner
            .endpoints
            .lock()
            .expect("not poisoned")
            .insert(service, e.clone());
        Ok(e)
    }

    /// Whether the cloud's catalog has `service` (Cinder may be absent).
    pub async fn has_service(&self, service: Service) -> bool {
        self.endpoint(service).await.is_ok()
    }

    /// Sends `call` under the retry policy; its JSON answer (`null` for
    /// an empty one). `cancel` stops the waits between attempts.
    pub async fn call(
        &self,
        call: &Call,
        cancel: Option<&CancellationToken>,
    ) -> Result<Value, ApiError> {
        self.call_reply(call, cancel).await.map(|r| r.body)
    }

    /// [`Client::call`], with the reply's `Location`.
    pub async fn call_reply(
        &self,
        call: &Call,
        cancel: Option<&CancellationToken>,
    ) -> Result<Reply, ApiError> {
        self.api(call)
            .await?
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
        self.api(call)
            .await?
            .create(
                call.op,
                None,
                &[],
                true,
                || async { self.attempt(call).await.map(|r| r.body) },
                find,
            )
            .await
    }

    /// The API of `call`'s service; a catalog without it is the call's
    /// error, worded as one.
    async fn api(&self, call: &Call) -> Result<Api, ApiError> {
        match self.endpoint(call.service).await {
            Ok((_, api)) => Ok(api),
            Err(fault) => {
                let api = Api::new(
                    call.service.name(),
                    "the service catalog",
                    None,
                    self.inner.policy,
                );
                Err(api
                    .call(call.op, None, |_| async { Err::<(), _>(fault.clone()) })
                    .await
                    .expect_err("the call fails"))
            }
        }
    }

    /// A delete: one the service no longer knows (`404`) is deleted.
    pub async fn delete(&self, call: &Call) -> Result<(), ApiError> {
        match self.call(call, None).await {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every item of a paginated list: the `key` array of each page,
    /// following Nova's and Neutron's `{key}_links` and Glance's `next`.
    pub async fn list_all(&self, call: &Call, key: &str) -> Result<Vec<Value>, ApiError> {
        let mut items = Vec::new();
        let mut call = call.clone();
        for _ in 0..1000 {
            let page = self.call(&call, None).await?;
            let got = page[key].as_array().cloned().unwrap_or_default();
            let empty = got.is_empty();
            items.extend(got);
            let next = page[format!("{key}_links")]
                .as_array()
                .and_then(|l| l.iter().find(|l| l["rel"].as_str() == Some("next")))
                .and_then(|l| l["href"].as_str())
                .map(String::from)
                .or_else(|| page["next"].as_str().map(String::from));
            match next {
                Some(n) if !empty => {
                    call.path = n;
                    call.query.clear();
                }
                _ => break,
            }
        }
        Ok(items)
    }

    /// The URL of `call`: a whole URL, a path from the host (Glance's
    /// `next` links), or a path below the service's endpoint.
    fn url(endpoint: &str, path: &str) -> Result<reqwest::Url, Fault> {
        let bad = |e: String| {
            Fault::new(
                Failure::Other(format!("bad endpoint URL `{endpoint}`: {e}")),
                ErrorClass::Permanent,
            )
        };
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if let Some(rest) = path
            .strip_prefix("/v2/")
            .filter(|_| endpoint.ends_with("/v2"))
        {
            // Glance's `next` is `/v2/images?marker=…`: below the endpoint's
            // host, with the endpoint's own path prefix (a proxy's) kept.
            format!("{endpoint}/{rest}")
        } else {
            format!("{endpoint}{path}")
        };
        reqwest::Url::parse(&url).map_err(|e| bad(e.to_string()))
    }

    /// One attempt of `call` with the current token; a 401 marks the
    /// token stale so the retry gets a new one.
    async fn attempt(&self, call: &Call) -> Result<Reply, Fault> {
        let (endpoint, _) = self.endpoint(call.service).await?;
        let url = Self::url(&endpoint, &call.path)?;
        let token = self.token(None, None).await.map_err(auth_fault)?;
        let mut req = self
            .inner
            .http
            .request(call.method.clone(), url)
            .query(&call.query)
            .header("x-auth-token", token.id.expose().as_str())
            .header("accept", "application/json");
        if let Some(b) = &call.body {
            req = req
                .header("content-type", call.content_type)
                .body(serde_json::to_vec(b).expect("JSON serialises"));
        }
        let reply = req
            .send()
            .await
            .map_err(|e| kiln_cloud::error::transport_fault(&e, e.is_timeout(), e.is_connect()))?;
        let status = reply.status().as_u16();
        let location = reply
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let bytes = reply
            .bytes()
            .await
            .map_err(|e| kiln_cloud::error::transport_fault(&e, e.is_timeout(), e.is_connect()))?;
        if (200..300).contains(&status) {
            let body = kiln_cloud::error::json_or_empty_reply(&bytes)?;
            return Ok(Reply { body, location });
        }
        let mut fault = reply_fault(status, &bytes);
        if status == 401 {
            // The token was revoked or expired early: the next attempt
            // gets a new one (Keystone's own refusal is permanent there).
            if self.token(Some(token.id.expose()), None).await.is_ok() {
                fault.class = ErrorClass::Transient;
            }
        }
        Err(fault)
    }
}

/// A failed authentication, as one attempt's fault.
fn auth_fault(e: ClientError) -> Fault {
    match e {
        ClientError::Auth { error, .. } => error.fault,
        other => Fault::new(Failure::Other(other.to_string()), ErrorClass::Permanent),
    }
}

/// Whether `e` says the thing is gone (HTTP 404).
pub fn not_found(e: &ApiError) -> bool {
    status(e) == Some(404)
}

/// The HTTP status of `e`'s reply, if it got one.
pub fn status(e: &ApiError) -> Option<u16> {
    match e.fault.failure {
        Failure::Service { status, .. } => status,
        Failure::Http { status, .. } => Some(status),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_url_adds_v3_unless_given() {
        assert_eq!(
            tokens_url("http://k:5000/v3"),
            "http://k:5000/v3/auth/tokens"
        );
        assert_eq!(
            tokens_url("http://k:5000/v3/"),
            "http://k:5000/v3/auth/tokens"
        );
        assert_eq!(tokens_url("http://k:5000"), "http://k:5000/v3/auth/tokens");
        assert_eq!(
            tokens_url("https://cloud/identity"),
            "https://cloud/identity/v3/auth/tokens"
        );
    }

    #[test]
    fn the_catalog_gives_the_interface_and_regions_endpoint() {
        let catalog = json!([
            {"type": "compute", "endpoints": [
                {"interface": "public", "region_id": "One", "url": "http://n1:8774/v2.1"},
                {"interface": "internal", "region_id": "One", "url": "http://n1i:8774/v2.1"},
                {"interface": "public", "region_id": "Two", "url": "http://n2:8774/v2.1/"}]},
            {"type": "image", "endpoints": [
                {"interface": "public", "region_id": "One", "url": "http://g:9292"}]},
            {"type": "network", "endpoints": [
                {"interface": "public", "region": "One", "url": "http://q:9696/"}]},
            {"type": "volumev3", "endpoints": [
                {"interface": "public", "region_id": "One", "url": "http://c:8776/v3/p1"}]},
        ]);
        let f = |s, i, r| find_endpoint(&catalog, s, i, r);
        assert_eq!(
            f(Service::Compute, Interface::Public, Some("Two")).as_deref(),
            Some("http://n2:8774/v2.1")
        );
        assert_eq!(
            f(Service::Compute, Interface::Internal, None).as_deref(),
            Some("http://n1i:8774/v2.1")
        );
        assert_eq!(
            f(Service::Image, Interface::Public, Some("One")).as_deref(),
            Some("http://g:9292/v2")
        );
        assert_eq!(
            f(Service::Network, Interface::Public, Some("One")).as_deref(),
            Some("http://q:9696/v2.0")
        );
        assert_eq!(
            f(Service::BlockStorage, Interface::Public, None).as_deref(),
            Some("http://c:8776/v3/p1")
        );
        assert_eq!(f(Service::Image, Interface::Admin, None), None);
        assert_eq!(f(Service::Compute, Interface::Public, Some("Three")), None);
    }

    #[test]
    fn the_auth_body_carries_the_credential_and_scope() {
        let access = AccessConfig {
            auth_url: "http://k:5000/v3".into(),
            credential: Credential::Password {
                user: User::Name {
                    name: "kiln".into(),
                    domain: Domain::Name("Default".into()),
                },
                password: Secret::new("pw".into()),
            },
            scope: Scope::ProjectName {
                name: "kiln".into(),
                domain: Some(Domain::Id("default".into())),
            },
            region: None,
            interface: Interface::Public,
            insecure: false,
            cacert: None,
            client_cert: None,
            cloud: None,
            endpoint_overrides: Default::default(),
        };
        assert_eq!(
            auth_body(&access),
            json!({"auth": {
                "identity": {"methods": ["password"], "password": {"user": {
                    "name": "kiln", "domain": {"name": "Default"}, "password": "pw"}}},
                "scope": {"project": {"name": "kiln", "domain": {"id": "default"}}}}})
        );
        let app = AccessConfig {
            credential: Credential::ApplicationCredential {
                id: Some("ac1".into()),
                name: None,
                secret: Secret::new("s".into()),
            },
            scope: Scope::None,
            ..access
        };
        assert_eq!(
            auth_body(&app),
            json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"id": "ac1", "secret": "s"}}}})
        );
    }
}
