//! The EC2 client: the AWS SDK for Rust configured from the template's
//! access keys (credentials from the standard chain unless the template
//! gives them: environment, shared config and credentials files, profiles,
//! `assume_role`, web identity, container and instance metadata),
//! `custom_endpoint_ec2`, `region` and `max_retries` (the SDK's standard
//! retry mode: exponential backoff with jitter on throttling and transient
//! errors), `insecure_skip_tls_verify` (an HTTPS client that accepts any
//! certificate, for every service: EC2, IAM, STS). Also the helpers every
//! step uses: error text with EC2's code and message, and a polling loop
//! that honours `aws_polling` and Ctrl-C. Holds the SDK configuration only;
//! nothing to clean up.

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::Client;
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
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(access.region.clone()))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(access.max_attempts)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(20)),
        );
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
        loader = loader.http_client(insecure::http_client());
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

/// An EC2 client for `region` with the same credentials and endpoint.
pub fn ec2_for(sdk: &SdkConfig, region: &str) -> Client {
    let conf = aws_sdk_ec2::config::Builder::from(sdk)
        .region(Region::new(region.to_string()))
        .build();
    Client::from_conf(conf)
}

/// An IAM client with the same credentials, endpoint and HTTP client.
pub fn iam(sdk: &SdkConfig) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(sdk)
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

    /// The HTTP client for `insecure_skip_tls_verify`.
    pub fn http_client() -> SharedHttpClient {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the default TLS versions are supported")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
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

/// The text of an SDK error: EC2's code and message when there is one, the
/// whole error chain otherwise, and a hint for credential problems.
pub fn describe<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(code), message) => {
            let mut s = format!("{code}: {}", message.unwrap_or("(no message)"));
            if AUTH_CODES.contains(&code) {
                s.push_str("\n  hint: the credentials were rejected; check `access_key`/`secret_key`, the `AWS_*` environment variables or the profile");
            }
            s
        }
        (None, _) => DisplayErrorContext(e).to_string(),
    }
}

/// The EC2 error code of `e`, if any.
pub fn code<E, R>(e: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    e.code()
}

/// Polls `check` until it returns `Some`: at once, then every
/// `polling.delay`, at most `polling.max_attempts` times. Stops on
/// cancellation.
pub async fn poll<T, F, Fut>(
    polling: Polling,
    cancel: &CancellationToken,
    what: &str,
    mut check: F,
) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    for attempt in 1..=polling.max_attempts {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => return Err(StepError::msg(format!("error waiting for {what}: {e}"))),
        }
        if attempt < polling.max_attempts {
            tokio::select! {
                _ = cancel.cancelled() => return Err(StepError::Cancelled),
                _ = tokio::time::sleep(polling.delay) => {}
            }
        }
    }
    Err(StepError::msg(format!(
        "timed out waiting for {what}: still not ready after {} attempts {}s apart (`aws_polling`)",
        polling.max_attempts,
        polling.delay.as_secs()
    )))
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

    #[tokio::test]
    async fn poll_gives_up_after_max_attempts() {
        let mut n = 0;
        let r: Result<(), _> = poll(
            Polling {
                delay: Duration::from_millis(1),
                max_attempts: 3,
            },
            &CancellationToken::new(),
            "the thing",
            || {
                n += 1;
                async { Ok(None) }
            },
        )
        .await;
        assert_eq!(n, 3);
        let e = r.unwrap_err().to_string();
        assert!(e.contains("timed out waiting for the thing"), "{e}");
    }
}
