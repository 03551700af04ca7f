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
    #[error("cannot reach the docker engine at `{host}`: {source}")]
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
        other => other.to_string(),
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

/// `DOCKER_HOST`, or the engine's default socket.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

/// Connects to the engine named by `DOCKER_HOST` (unix socket or plain
/// `tcp://`) and negotiates the API version, so engines older than
/// bollard's default (Debian's 20.10 speaks 1.41) work.
pub async fn connect() -> Result<Docker, DockerError> {
    let host = docker_host();
    let docker = Docker::connect_with_host(&host).map_err(|source| DockerError::Connect {
        host: host.clone(),
        source,
    })?;
    // Long provisioning commands and big exports stream through one request.
    let docker = docker.with_timeout(Duration::from_secs(6 * 3600));
    docker
        .negotiate_version()
        .await
        .map_err(|source| DockerError::Connect { host, source })
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
