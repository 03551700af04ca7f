//! The connection to the Docker engine and the crate's error type. A
//! [`bollard::Docker`] handle is a cheap, cloneable HTTP client over
//! `DOCKER_HOST` (unix socket by default); it holds no engine-side resource,
//! so there is nothing to clean up when it is dropped.

use std::time::Duration;

use bollard::Docker;

/// Why talking to the engine failed. Every variant says what was being
/// done; the engine's own words follow.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine could not be reached.
    #[error(
        "cannot reach the docker engine at `{host}`: {}",
        engine_message(source)
    )]
    Connect {
        /// `DOCKER_HOST`, or the default socket.
        host: String,
        /// What bollard said.
        #[source]
        source: bollard::errors::Error,
    },
    /// An API call failed.
    #[error("{context}: {}", engine_message(source))]
    Api {
        /// What was being done.
        context: String,
        /// What the engine said.
        #[source]
        source: bollard::errors::Error,
    },
    /// A local file or stream failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Anything else, already worded for the user.
    #[error("{0}")]
    Msg(String),
}

/// The engine's message without bollard's wrapping.
pub fn engine_message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => format!("{} (HTTP {status_code})", message.trim()),
        // Transport errors hide their cause (a refused connection, a TLS
        // failure) in the source chain: show it.
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                let part = s.to_string();
                if !text.contains(&part) {
                    text.push_str(": ");
                    text.push_str(&part);
                }
                source = s.source();
            }
            text
        }
    }
}

/// True when the engine answered 404 (no such container or image).
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Adds context to engine and I/O results.
pub trait Context<T> {
    /// Wraps the error with `context`, computed only on failure.
    fn context(self, context: impl FnOnce() -> String) -> Result<T, DockerError>;
}

impl<T> Context<T> for Result<T, bollard::errors::Error> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T, DockerError> {
        self.map_err(|source| DockerError::Api {
            context: context(),
            source,
        })
    }
}

impl<T> Context<T> for Result<T, std::io::Error> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T, DockerError> {
        self.map_err(|source| DockerError::Io {
            context: context(),
            source,
        })
    }
}

/// How to reach the engine: `DOCKER_HOST`, and TLS settings from
/// `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH`, as the docker CLI reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket or plain `tcp://` / `http://`.
    Plain(String),
    /// `tcp://` with `DOCKER_TLS_VERIFY`, or `https://`: mutual TLS with the
    /// certificates in `cert_dir` (`ca.pem`, `cert.pem`, `key.pem`).
    Tls {
        /// `host:port` URL.
        host: String,
        /// The certificate directory.
        cert_dir: std::path::PathBuf,
    },
}

impl Endpoint {
    /// The endpoint the environment names (`get` reads a variable).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Endpoint {
        let host = get("DOCKER_HOST")
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        // The docker CLI treats an empty DOCKER_TLS_VERIFY as unset.
        let verify = get("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty());
        let tls = host.starts_with("https://")
            || (verify && (host.starts_with("tcp://") || host.starts_with("http://")));
        if !tls {
            return Endpoint::Plain(host);
        }
        let cert_dir = get("DOCKER_CERT_PATH")
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(get("HOME").unwrap_or_default()).join(".docker")
            });
        Endpoint::Tls { host, cert_dir }
    }

    /// The host URL, for messages.
    pub fn host(&self) -> &str {
        match self {
            Endpoint::Plain(h) | Endpoint::Tls { host: h, .. } => h,
        }
    }

    /// A client for this endpoint (nothing is sent yet).
    pub fn client(&self) -> Result<Docker, DockerError> {
        match self {
            Endpoint::Plain(host) => {
                Docker::connect_with_host(host).map_err(|source| DockerError::Connect {
                    host: host.clone(),
                    source,
                })
            }
            Endpoint::Tls { host, cert_dir } => {
                let file = |name: &str| {
                    let p = cert_dir.join(name);
                    if p.is_file() {
                        Ok(p)
                    } else {
                        Err(DockerError::Msg(format!(
                            "cannot reach the docker engine at `{host}` over TLS: `{}` does not exist; \
                             put `ca.pem`, `cert.pem` and `key.pem` there or point `DOCKER_CERT_PATH` at them",
                            p.display()
                        )))
                    }
                };
                let (ca, cert, key) = (file("ca.pem")?, file("cert.pem")?, file("key.pem")?);
                // With more than one provider compiled in, rustls needs to
                // be told; a provider already installed is fine.
                let _ = rustls::crypto::ring::default_provider().install_default();
                // `https://` is what the TLS connector expects.
                let addr = host
                    .replacen("tcp://", "https://", 1)
                    .replacen("http://", "https://", 1);
                Docker::connect_with_ssl(&addr, &key, &cert, &ca, 120, bollard::API_DEFAULT_VERSION)
                    .map_err(|source| DockerError::Connect {
                        host: host.clone(),
                        source,
                    })
            }
        }
    }
}

/// Connects to the engine named by `DOCKER_HOST` (unix socket, plain
/// `tcp://`, or TLS with `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH` or
/// `https://`) and negotiates the API version, so engines older than
/// bollard's default (Debian's 20.10 speaks 1.41) work.
pub async fn connect() -> Result<Docker, DockerError> {
    let endpoint = Endpoint::from_env(|k| std::env::var(k).ok());
    let docker = endpoint.client()?;
    // Long provisioning commands and big exports stream through one request.
    let docker = docker.with_timeout(Duration::from_secs(6 * 3600));
    docker
        .negotiate_version()
        .await
        .map_err(|source| DockerError::Connect {
            host: endpoint.host().to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_messages_are_unwrapped() {
        let e = bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message: "No such image: x\n".into(),
        };
        assert!(is_not_found(&e));
        let r: Result<(), _> = Err(e);
        let msg = r.context(|| "cannot inspect image `x`".into()).unwrap_err();
        assert_eq!(
            msg.to_string(),
            "cannot inspect image `x`: No such image: x (HTTP 404)"
        );
    }

    #[test]
    fn endpoints_follow_the_docker_cli() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Endpoint::from_env(env(&[])),
            Endpoint::Plain("unix:///var/run/docker.sock".into())
        );
        assert_eq!(
            Endpoint::from_env(env(&[
                ("DOCKER_HOST", "tcp://h:2375"),
                ("DOCKER_TLS_VERIFY", "")
            ])),
            Endpoint::Plain("tcp://h:2375".into())
        );
        assert_eq!(
            Endpoint::from_env(env(&[
                ("DOCKER_HOST", "tcp://h:2376"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/certs")
            ])),
            Endpoint::Tls {
                host: "tcp://h:2376".into(),
                cert_dir: "/certs".into()
            }
        );
        assert_eq!(
            Endpoint::from_env(env(&[
                ("DOCKER_HOST", "https://h:2376"),
                ("HOME", "/home/u")
            ])),
            Endpoint::Tls {
                host: "https://h:2376".into(),
                cert_dir: "/home/u/.docker".into()
            }
        );
    }

    #[test]
    fn missing_certificates_are_named() {
        let e = Endpoint::Tls {
            host: "tcp://h:2376".into(),
            cert_dir: "/nonexistent-kiln-certs".into(),
        }
        .client()
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`/nonexistent-kiln-certs/ca.pem` does not exist")
                && e.contains("DOCKER_CERT_PATH"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn unsupported_docker_host_is_a_clear_error() {
        // Exercises the error path without touching the environment of
        // other tests: connect_with_host is what `connect` calls.
        let e = Docker::connect_with_host("ftp://nowhere").unwrap_err();
        let wrapped = DockerError::Connect {
            host: "ftp://nowhere".into(),
            source: e,
        };
        assert!(wrapped
            .to_string()
            .starts_with("cannot reach the docker engine at `ftp://nowhere`"));
    }
}
