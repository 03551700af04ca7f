//! `StepConnect`: waits for the machine's sshd and connects, for any
//! builder whose state implements [`SshState`]. It retries with a short
//! backoff (a flat 5 ms while the port is refused, since a refused connect
//! is one RST and costs the server nothing, so kiln connects within a few
//! milliseconds of sshd listening; 5 ms doubling to 25 ms for other
//! failures; unreachable hosts slow the loop down by themselves through
//! their connect timeouts; 250 ms when a port forwarder accepts and hangs
//! up), bounded by `ssh_timeout` and
//! `ssh_handshake_attempts` (which counts only servers that spoke SSH), and stops at once on cancellation or on errors
//! retrying cannot fix (host key mismatch, unusable key). It stores the
//! communicator in the state; its cleanup removes it, which closes the
//! connection.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::duration::format_go;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::comm::SshCommunicator;
use crate::config::SshConfig;
use crate::connect::{connect_once, ConnectError, Connection};

/// The first retry delay.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
/// The retry delay while the port refuses connections: nothing listens
/// yet, and asking again costs one RST.
const REFUSED_BACKOFF: Duration = Duration::from_millis(5);
/// The longest retry delay.
const MAX_BACKOFF: Duration = Duration::from_millis(25);
/// The longest retry delay after a server accepted and hung up silently: a
/// port forwarder in front of a booting VM, where every attempt costs the
/// guest work.
const SILENT_MAX_BACKOFF: Duration = Duration::from_millis(250);

/// What `StepConnect` needs from a builder's state.
pub trait SshState: Send {
    /// The address the builder discovered (a container's IP), overriding
    /// `ssh_host`; `None` uses `ssh_host`.
    fn ssh_host(&self) -> Option<String> {
        None
    }
    /// Stores (or, with `None`, drops) the connected communicator.
    fn set_ssh_communicator(&mut self, communicator: Option<Arc<SshCommunicator>>);
}

/// Why [`wait_for_ssh`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The build was cancelled.
    #[error("cancelled while waiting for ssh")]
    Cancelled,
    /// `ssh_timeout` passed.
    #[error("timeout waiting for SSH: no connection to `{addr}` after {attempts} attempts in {timeout}; last error: {last}")]
    Timeout {
        /// `host:port`.
        addr: String,
        /// Attempts made.
        attempts: u32,
        /// `ssh_timeout`, Go-formatted.
        timeout: String,
        /// The last failure.
        last: String,
    },
    /// `ssh_handshake_attempts` handshakes failed.
    #[error("error waiting for SSH: {attempts} handshake attempts failed (`ssh_handshake_attempts`); last error: {last}")]
    Handshakes {
        /// The attempts.
        attempts: u32,
        /// The last failure.
        last: ConnectError,
    },
    /// A failure retrying cannot fix.
    #[error("error waiting for SSH: {0}")]
    Fatal(ConnectError),
}

/// Connects to `host` with retries; see the module docs.
pub async fn wait_for_ssh(
    config: &SshConfig,
    host: &str,
    cancel: &CancellationToken,
) -> Result<Connection, WaitError> {
    let addr = format!("{host}:{}", config.port);
    let deadline = Instant::now() + config.timeout;
    let (mut attempts, mut handshakes) = (0u32, 0u32);
    let mut delay = FIRST_BACKOFF;
    // The last error an attempt ended with: when `ssh_timeout` cuts the
    // final attempt short, the error before it says more than the cut.
    let mut previous: Option<String> = None;
    loop {
        attempts += 1;
        let mut cap = MAX_BACKOFF;
        let left = deadline.saturating_duration_since(Instant::now());
        let last = tokio::select! {
            _ = cancel.cancelled() => return Err(WaitError::Cancelled),
            r = tokio::time::timeout(left, connect_once(config, host)) => match r {
                Ok(Ok(c)) => return Ok(c),
                Ok(Err(e)) if !e.is_retryable() => return Err(WaitError::Fatal(e)),
                Ok(Err(e)) => {
                    if matches!(e, ConnectError::Silent { .. }) {
                        cap = SILENT_MAX_BACKOFF;
                    } else if e.is_refused() {
                        cap = REFUSED_BACKOFF;
                    }
                    if e.is_handshake() {
                        handshakes += 1;
                        if handshakes >= config.handshake_attempts {
                            return Err(WaitError::Handshakes { attempts: handshakes, last: e });
                        }
                    }
                    let e = e.to_string();
                    previous = Some(e.clone());
                    e
                }
                Err(_) => previous.clone().unwrap_or_else(|| {
                    "the attempt did not finish before `ssh_timeout`".to_string()
                }),
            },
        };
        if Instant::now() + delay >= deadline {
            return Err(WaitError::Timeout {
                addr,
                attempts,
                timeout: format_go(config.timeout),
                last,
            });
        }
        tokio::select! {
            _ = cancel.cancelled() => return Err(WaitError::Cancelled),
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(cap);
    }
}

/// See the module docs.
pub struct StepConnect {
    config: Arc<SshConfig>,
    /// The communicator handed to the state, closed by cleanup.
    connected: Option<Arc<SshCommunicator>>,
}

impl StepConnect {
    /// A connect step for `config`.
    pub fn new(config: Arc<SshConfig>) -> Self {
        StepConnect {
            config,
            connected: None,
        }
    }
}

#[async_trait]
impl<S: SshState> Step<S> for StepConnect {
    fn name(&self) -> &'static str {
        "StepConnect"
    }

    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError> {
        let host = state.ssh_host().unwrap_or_else(|| self.config.host.clone());
        let pause = self.config.pause_before_connecting;
        if !pause.is_zero() {
            cx.ui.say(&format!(
                "Pausing {} before connecting...",
                format_go(pause)
            ));
            tokio::select! {
                _ = cx.cancel.cancelled() => return Err(StepError::Cancelled),
                _ = tokio::time::sleep(pause) => {}
            }
        }
        cx.ui
            .say(&format!("Using ssh communicator to connect: {host}"));
        cx.ui.say("Waiting for SSH to become available...");
        match wait_for_ssh(&self.config, &host, &cx.cancel).await {
            Ok(conn) => {
                cx.ui.say("Connected to SSH!");
                let comm = Arc::new(SshCommunicator::new(self.config.clone(), host, conn));
                self.connected = Some(comm.clone());
                state.set_ssh_communicator(Some(comm));
                Ok(StepAction::Continue)
            }
            Err(WaitError::Cancelled) => Err(StepError::Cancelled),
            Err(e) => Err(StepError::msg(e)),
        }
    }

    async fn cleanup(&mut self, _cx: &StepContext<'_>, state: &mut S) {
        state.set_ssh_communicator(None);
        if let Some(comm) = self.connected.take() {
            comm.close().await;
        }
    }
}
