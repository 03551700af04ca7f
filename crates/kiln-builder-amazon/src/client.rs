//! The AWS clients: the AWS SDK for Rust configured from the template's
//! access keys (credentials from the standard chain unless the template
//! gives them: environment, shared config and credentials files, profiles,
//! `assume_role`, web identity, container and instance metadata),
//! `custom_endpoint_ec2`, `region`, `insecure_skip_tls_verify` (an HTTPS
//! client that accepts any certificate, for every service: EC2, IAM, STS),
//! and request timeouts (connect, and each attempt: [`Timeouts`]).
//!
//! kiln's retry policy governs, not the SDK's (whose process-wide retry
//! quota ran dry under load and left later calls one attempt): the SDK's
//! clients do not retry, and every EC2 and IAM call goes through an
//! [`Aws`] client, the SDK client with a [`kiln_cloud::Api`] that retries
//! throttling, 5xx and connection failures (`max_retries` attempts),
//! bounds requests in flight per endpoint and words errors for people.
//! This file is the AWS adapter of `kiln-cloud`: it classifies SDK errors
//! ([`fault`]), and maps `aws_polling` onto a [`Poller`]. Holds the SDK
//! configuration only; nothing to clean up.

use std::future::Future;
use std::ops::Deref;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use kiln_cloud::error::snippet;
use kiln_cloud::retry::{classify_failure, classify_reply};
use kiln_cloud::{Api, ApiError, CheckError, ErrorClass, Failure, Fault, PollError, Poller};
use kiln_cloud::{RetryPolicy, Status, Timeouts};
use kiln_sdk::step::StepError;
use tokio_util::sync::CancellationToken;

use crate::config::{AccessConfig, Polling};

/// Why the client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No credentials anywhere in the chain, or the chain failed.
    #[error("no valid credential sources found for the amazon-ebs builder: {0}\n  hint: set `access_key` and `secret_key`, `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, or a `profile` in ~/.aws/credentials")]
    NoCredentials(String),
    /// `assume_role` failed.
    #[error("cannot assume role `{role}`: {message}")]
    AssumeRole {
        /// The role ARN.
        role: String,
        /// Why.
        message: String,
    },
}

/// Loads the SDK configuration for the build region.
pub async fn load(access: &AccessConfig) -> Result<SdkConfig, ClientError> {
    let timeouts = Timeouts::from_env();
    let mut loader = config_loader(&access.region, attempts(access), timeouts);
    if let Some(p) = &access.profile {
        loader = loader.profile_name(p);
    }
    if let Some(f) = &access.shared_credentials_file {
        use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
        loader = loader.profile_files(
            EnvConfigFiles::builder()
                .include_default_config_file(true)
                .with_file(EnvConfigFileKind::Credentials, f)
                .build(),
        );
    }
    if let Some(c) = &access.credentials {
        loader = loader.credentials_provider(aws_credential_types::Credentials::new(
            c.access_key.clone(),
            c.secret_key.expose().clone(),
            c.token.as_ref().map(|t| t.expose().clone()),
            None,
            "kiln-template",
        ));
    }
    if let Some(e) = &access.endpoint {
        loader = loader.endpoint_url(e);
    }
    if access.insecure_skip_tls_verify {
        loader = loader.http_client(insecure::http_client(timeouts.connect));
    }
    let mut sdk = loader.load().await;
    if let Some(role) = &access.assume_role {
        let mut b = aws_config::sts::AssumeRoleProvider::builder(role.role_arn.clone())
            .session_name(
                role.session_name
                    .clone()
                    .unwrap_or_else(|| format!("kiln-{}", uuid::Uuid::new_v4().simple())),
            );
        if let Some(id) = &role.external_id {
            b = b.external_id(id.clone());
        }
        if let Some(d) = role.duration {
            b = b.session_length(d);
        }
        if let Some(p) = &role.policy {
            b = b.policy(p.clone());
        }
        let provider = b.configure(&sdk).build().await;
        if !access.skip_credential_validation {
            provider
                .provide_credentials()
                .await
                .map_err(|e| ClientError::AssumeRole {
                    role: role.role_arn.clone(),
                    message: DisplayErrorContext(&e).to_string(),
                })?;
        }
        sdk = sdk
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    } else if !access.skip_credential_validation {
        match sdk.credentials_provider() {
            None => return Err(ClientError::NoCredentials("no credentials provider".into())),
            Some(p) => {
                p.provide_credentials()
                    .await
                    .map_err(|e| ClientError::NoCredentials(DisplayErrorContext(&e).to_string()))?;
            }
        }
    }
    Ok(sdk)
}

/// The SDK's loader for `region`: the standard credential chain, request
/// timeouts, and `attempts` carried to [`ec2_for`] and [`iam`], whose
/// clients do not retry themselves (kiln's policy does).
///
/// The SDK's stalled-stream protection is off: it fails a reply whose body
/// arrives slower than 1 B/s for 5 s with an error that is not retried,
/// which under load (1,000 builds against one endpoint) failed a third of
/// the builds. The read timeout bounds a silent server instead, and its
/// timeouts are retried by kiln's policy.
fn config_loader(region: &str, attempts: u32, timeouts: Timeouts) -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(shared_http_client())
        .region(Region::new(region.to_string()))
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .retry_config(RetryConfig::standard().with_max_attempts(attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(timeouts.connect)
                .read_timeout(timeouts.read)
                .operation_attempt_timeout(timeouts.read)
                .build(),
        )
}

/// The one HTTPS client of the process, shared by every build's SDK
/// configuration: the SDK's default client, but made once. The SDK makes a
/// client per loaded configuration, and each builds its own TLS setup (a
/// copy of every trust anchor), which was half of kiln's heap with 500
/// builds (heaptrack: 55 MB of 114 MB). The client keeps one connector per
/// timeout setting, so builds with different timeouts still get theirs; it
/// is the SDK's default in everything else (rustls with aws-lc, the proxy
/// from `HTTPS_PROXY`/`NO_PROXY`).
fn shared_http_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    use aws_smithy_http_client::{Builder, ConnectorBuilder};
    static CLIENT: std::sync::OnceLock<SharedHttpClient> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            Builder::new().build_with_connector_fn(|settings, components| {
                let mut conn =
                    ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
                conn.set_connector_settings(settings.cloned());
                if let Some(components) = components {
                    conn.set_sleep_impl(components.sleep_impl());
                }
                conn.set_proxy_config(Some(ProxyConfig::from_env()));
                conn.build()
            })
        })
        .clone()
}

/// The SDK configuration for `region` with credentials from the standard
/// chain only (environment, shared files, profiles, instance metadata)
/// and kiln's default retry policy: for `kiln cleanup`, which has no
/// template. `endpoint` replaces every service's endpoint.
pub async fn load_standard(region: &str, endpoint: Option<&str>) -> SdkConfig {
    let mut loader = config_loader(
        region,
        RetryPolicy::default().max_attempts,
        Timeouts::from_env(),
    );
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
}

/// The attempts per call (the first included): kiln's retry policy's
/// default when the template leaves `max_retries` unset, otherwise that
/// many (kiln counts the first attempt in `max_retries`; Packer's AWS SDK
/// makes one more).
pub fn attempts(access: &AccessConfig) -> u32 {
    match access.max_retries {
        None => RetryPolicy::default().max_attempts,
        Some(n) => n.max(1),
    }
}

/// The retry policy of clients made from `sdk`.
fn policy(sdk: &SdkConfig) -> RetryPolicy {
    RetryPolicy {
        max_attempts: sdk
            .retry_config()
            .map(|r| r.max_attempts())
            .unwrap_or(RetryPolicy::default().max_attempts),
        ..RetryPolicy::default()
    }
}

/// The [`Api`] of `service` for clients made from `sdk`: its endpoint as
/// messages name it (and `setting`, what sets a custom one), and the retry
/// policy.
fn api(sdk: &SdkConfig, service: &str, default_endpoint: String, setting: &str) -> Api {
    match sdk.endpoint_url() {
        Some(url) => Api::new(service, url, Some(setting), policy(sdk)),
        None => Api::new(service, &default_endpoint, None, policy(sdk)),
    }
}

/// The template setting of a custom endpoint.
const ENDPOINT_SETTING: &str = "custom_endpoint_ec2";

/// An EC2 client for `region` with the same credentials and endpoint.
pub fn ec2_for(sdk: &SdkConfig, region: &str) -> Ec2 {
    ec2_at(sdk, region, ENDPOINT_SETTING)
}

/// [`ec2_for`], whose custom endpoint `setting` sets (`-endpoint`).
pub fn ec2_at(sdk: &SdkConfig, region: &str, setting: &str) -> Ec2 {
    let conf = aws_sdk_ec2::config::Builder::from(sdk)
        .region(Region::new(region.to_string()))
        .retry_config(RetryConfig::disabled())
        .build();
    Aws {
        client: aws_sdk_ec2::Client::from_conf(conf),
        api: api(
            sdk,
            "EC2",
            format!("https://ec2.{region}.amazonaws.com"),
            setting,
        ),
    }
}

/// An IAM client with the same credentials, endpoint and HTTP client.
pub fn iam(sdk: &SdkConfig) -> Iam {
    iam_at(sdk, ENDPOINT_SETTING)
}

/// [`iam`], whose custom endpoint `setting` sets (`-endpoint`).
pub fn iam_at(sdk: &SdkConfig, setting: &str) -> Iam {
    let conf = aws_sdk_iam::config::Builder::from(sdk)
        .retry_config(RetryConfig::disabled())
        .build();
    Aws {
        client: aws_sdk_iam::Client::from_conf(conf),
        api: api(sdk, "IAM", "https://iam.amazonaws.com".to_string(), setting),
    }
}

/// An SDK client whose calls go through kiln's [`Api`]: retried by its
/// policy, bounded per endpoint, failing with an [`ApiError`]. It derefs to
/// the SDK client, to build requests.
#[derive(Clone, Debug)]
pub struct Aws<C> {
    client: C,
    api: Api,
}

/// The EC2 client of a region.
pub type Ec2 = Aws<aws_sdk_ec2::Client>;

/// The IAM client.
pub type Iam = Aws<aws_sdk_iam::Client>;

impl<C> Deref for Aws<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.client
    }
}

/// The API action of an SDK request builder type:
/// `…::CreateImageFluentBuilder` is `CreateImage`.
pub fn action<B>() -> &'static str {
    let name = std::any::type_name::<B>();
    let last = name.rsplit("::").next().unwrap_or(name);
    last.strip_suffix("FluentBuilder").unwrap_or(last)
}

type SendResult<O, E> = Result<O, SdkError<E, HttpResponse>>;

impl<C> Aws<C> {
    /// `client` calling through `api` (tests).
    pub fn new(client: C, api: Api) -> Self {
        Aws { client, api }
    }

    /// The endpoint's [`Api`].
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// Sends `req` (`|r| r.send()`) under the retry policy.
    pub async fn send<B, O, E, F, Fut>(&self, req: B, send: F) -> Result<O, ApiError>
    where
        B: Clone,
        F: Fn(B) -> Fut,
        Fut: Future<Output = SendResult<O, E>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.api
            .call(action::<B>(), None, |_| {
                let sent = send(req.clone());
                async move { sent.await.map_err(|e| fault(&e)) }
            })
            .await
    }

    /// Sends a create request under the retry policy; on a retry, an error
    /// with a `duplicate` code (or, with `look_first`, before retrying)
    /// adopts what `find` finds: the earlier attempt made it and its reply
    /// was lost ([`Api::create`]).
    pub async fn create<B, O, E, F, Fut, L, LFut>(
        &self,
        req: B,
        send: F,
        duplicate: &[&str],
        look_first: bool,
        find: L,
    ) -> Result<O, ApiError>
    where
        B: Clone,
        F: Fn(B) -> Fut,
        Fut: Future<Output = SendResult<O, E>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        L: FnMut() -> LFut,
        LFut: Future<Output = Result<Option<O>, ApiError>>,
    {
        self.api
            .create(
                action::<B>(),
                None,
                duplicate,
                look_first,
                || {
                    let sent = send(req.clone());
                    async move { sent.await.map_err(|e| fault(&e)) }
                },
                find,
            )
            .await
    }

    /// Sends a delete request under the retry policy; an error with a
    /// `not_found` code on a retry is done (`Ok(None)`).
    pub async fn delete<B, O, E, F, Fut>(
        &self,
        req: B,
        send: F,
        not_found: &[&str],
    ) -> Result<Option<O>, ApiError>
    where
        B: Clone,
        F: Fn(B) -> Fut,
        Fut: Future<Output = SendResult<O, E>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.api
            .delete(action::<B>(), None, not_found, || {
                let sent = send(req.clone());
                async move { sent.await.map_err(|e| fault(&e)) }
            })
            .await
    }
}

/// The hint for an error code that means the credentials are wrong.
const AUTH_HINT: &str = "the credentials were rejected; check `access_key`/`secret_key`, the `AWS_*` environment variables or the profile";

/// An SDK error as a [`Fault`]: the service's code and message when it
/// gave them; otherwise what happened to the connection or what came back
/// instead of an API reply (an HTML page from a wrong endpoint), never the
/// SDK's debug text.
pub fn fault<E, R>(e: &SdkError<E, R>) -> Fault
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HasStatus + std::fmt::Debug + 'static,
{
    let status = e.raw_response().and_then(|r| r.status());
    match e {
        SdkError::ServiceError(_) => match e.code() {
            Some(code) => {
                let mut f = Fault::new(
                    Failure::Service {
                        code: code.to_string(),
                        message: e.message().unwrap_or("(no message)").to_string(),
                        status,
                    },
                    classify_reply("aws", Some(code), status),
                );
                if AUTH_CODES.contains(&code) {
                    f.hint = Some(AUTH_HINT.to_string());
                }
                f
            }
            None => {
                let status = status.unwrap_or(0);
                let body = e
                    .raw_response()
                    .and_then(|r| r.body_text())
                    .map(|b| snippet(&b, 100))
                    .unwrap_or_default();
                let failure = Failure::Http { status, body };
                let class = classify_failure(&failure);
                Fault::new(failure, class)
            }
        },
        SdkError::TimeoutError(_) => Fault::new(Failure::ReadTimeout, ErrorClass::Transient),
        SdkError::ConstructionFailure(_) => {
            Fault::new(Failure::Other(root_cause(e)), ErrorClass::Permanent)
        }
        SdkError::ResponseError(_) if status.is_some_and(|s| s >= 400) => {
            let failure = Failure::Http {
                status: status.unwrap_or(0),
                body: String::new(),
            };
            let class = classify_failure(&failure);
            Fault::new(failure, class)
        }
        // A reply that could not be read (cut short, garbled), or no reply.
        _ => {
            let failure = connection_failure(e);
            let class = match &failure {
                Failure::Other(_) => ErrorClass::Transient,
                f => classify_failure(f),
            };
            Fault::new(failure, class)
        }
    }
}

/// What a response can tell about itself, for [`fault`].
pub trait HasStatus {
    /// The HTTP status.
    fn status(&self) -> Option<u16>;
    /// The body, when it is text in memory.
    fn body_text(&self) -> Option<String>;
}

impl HasStatus for HttpResponse {
    fn status(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
    fn body_text(&self) -> Option<String> {
        self.body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// The innermost cause of `e`, as text.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// What happened to the connection, from the error's causes.
fn connection_failure(e: &(dyn std::error::Error + 'static)) -> Failure {
    let mut text = String::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            match io.kind() {
                K::ConnectionRefused => return Failure::Refused,
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                    return Failure::Reset
                }
                _ => {}
            }
        }
        text.push_str(&c.to_string().to_lowercase());
        text.push('\n');
        cur = c.source();
    }
    let root = root_cause(e);
    if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        Failure::Tls(root)
    } else if text.contains("dns error") || text.contains("failed to lookup address") {
        Failure::Dns(root)
    } else if text.contains("connection refused") {
        Failure::Refused
    } else if text.contains("timeout") || text.contains("timed out") {
        if text.contains("connect") {
            Failure::ConnectTimeout
        } else {
            Failure::ReadTimeout
        }
    } else if text.contains("connection reset")
        || text.contains("connection closed")
        || text.contains("incomplete message")
        || text.contains("broken pipe")
        || text.contains("unexpected eof")
    {
        Failure::Reset
    } else {
        Failure::Other(root)
    }
}

/// A [`Poller`] for `aws_polling`: at most `delay` × `max_attempts`,
/// checking every `delay` at first (with jitter, growing up to twice it).
pub fn poller(polling: Polling) -> Poller {
    let interval = polling.delay.max(Duration::from_millis(100));
    let mut p = Poller::new(interval * polling.max_attempts.max(1), interval);
    p.hint = Some("`aws_polling`".to_string());
    p
}

/// `insecure_skip_tls_verify`: Packer gives the SDK session an HTTP
/// transport with `InsecureSkipVerify`. The SDK's own client has no such
/// switch, so this is a small hyper client whose rustls configuration
/// accepts any server certificate (signatures are still checked, so the
/// handshake itself stays sound).
mod insecure {
    use std::sync::Arc;

    use aws_smithy_runtime_api::client::http::{
        http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::body::SdkBody;
    use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
    use hyper_util::client::legacy::Client;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    /// Accepts every certificate; checks handshake signatures.
    #[derive(Debug)]
    struct AcceptAny(Arc<CryptoProvider>);

    impl ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    type HyperClient = Client<hyper_rustls::HttpsConnector<TcpConnector>, SdkBody>;

    #[derive(Debug, Clone)]
    struct Connector(HyperClient);

    impl HttpConnector for Connector {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let client = self.0.clone();
            HttpConnectorFuture::new(async move {
                let request = request
                    .try_into_http1x()
                    .map_err(|e| ConnectorError::user(e.into()))?;
                let response = client
                    .request(request)
                    .await
                    .map_err(|e| ConnectorError::io(e.into()))?;
                HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|e| ConnectorError::other(e.into(), None))
            })
        }
    }

    /// The HTTP client for `insecure_skip_tls_verify`, connecting within
    /// `connect_timeout`.
    pub fn http_client(connect_timeout: std::time::Duration) -> SharedHttpClient {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the default TLS versions are supported")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth();
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        let connector = SharedHttpConnector::new(Connector(client));
        http_client_fn(move |_, _| connector.clone())
    }
}

/// EC2 error codes that mean the credentials are wrong.
const AUTH_CODES: &[&str] = &[
    "AuthFailure",
    "UnauthorizedOperation",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "RequestExpired",
    "OptInRequired",
];

/// Waits until `check` says [`Status::Ready`], as `aws_polling` says
/// ([`poller`]); transient errors are waited out, and Ctrl-C stops it.
/// `what` names the wait (`AMI (ami-1) to become ready`).
pub async fn poll<T, F, Fut>(
    polling: Polling,
    cancel: &CancellationToken,
    what: &str,
    check: F,
) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Status<T>, CheckError>>,
{
    match poller(polling).wait(what, cancel, check).await {
        Ok(v) => Ok(v),
        Err(PollError::Cancelled { .. }) => Err(StepError::Cancelled),
        Err(e) => Err(StepError::msg(e.to_string())),
    }
}

/// A Packer-style temporary resource name: `packer_` and a time-ordered
/// UUID.
pub fn temporary_name() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as u32;
    let b = *uuid::Uuid::new_v4().as_bytes();
    format!(
        "packer_{secs:08x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{}",
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        hex12(&b[6..12])
    )
}

fn hex12(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_look_like_packers() {
        let n = temporary_name();
        assert!(n.starts_with("packer_"), "{n}");
        assert_eq!(n.len(), "packer_".len() + 36, "{n}");
        assert_ne!(n, temporary_name());
    }

    #[tokio::test(start_paused = true)]
    async fn poll_gives_up_after_aws_polling_and_says_so() {
        let r: Result<(), _> = poll(
            Polling {
                delay: Duration::from_secs(2),
                max_attempts: 3,
            },
            &CancellationToken::new(),
            "the thing",
            || async { Ok(Status::Pending("pending".into())) },
        )
        .await;
        let e = r.unwrap_err().to_string();
        assert_eq!(
            e,
            "timed out waiting for the thing: it was still `pending` after 6s (`aws_polling`)"
        );
    }

    fn access(max_retries: Option<u32>) -> AccessConfig {
        AccessConfig {
            region: "us-east-1".into(),
            credentials: None,
            profile: None,
            shared_credentials_file: None,
            assume_role: None,
            endpoint: None,
            max_retries,
            skip_credential_validation: true,
            insecure_skip_tls_verify: false,
        }
    }

    #[test]
    fn unset_max_retries_is_kilns_policy_and_a_set_one_is_obeyed() {
        assert_eq!(attempts(&access(None)), RetryPolicy::default().max_attempts);
        // 3 is not "unset": it was taken for the default once.
        assert_eq!(attempts(&access(Some(3))), 3);
        assert_eq!(attempts(&access(Some(1))), 1);
        assert_eq!(attempts(&access(Some(25))), 25);
    }

    #[tokio::test]
    async fn the_clients_carry_the_attempts_into_kilns_policy() {
        for (max_retries, want) in [(None, RetryPolicy::default().max_attempts), (Some(3), 3)] {
            let sdk = aws_config::SdkConfig::builder()
                .region(Region::new("us-east-1"))
                .behavior_version(BehaviorVersion::latest())
                .retry_config(
                    RetryConfig::standard().with_max_attempts(attempts(&access(max_retries))),
                )
                .build();
            assert_eq!(ec2_for(&sdk, "us-east-1").api().policy().max_attempts, want);
            assert_eq!(iam(&sdk).api().policy().max_attempts, want);
        }
    }

    #[test]
    fn actions_are_named_by_their_builder() {
        assert_eq!(
            action::<aws_sdk_ec2::operation::create_image::builders::CreateImageFluentBuilder>(),
            "CreateImage"
        );
    }
}
