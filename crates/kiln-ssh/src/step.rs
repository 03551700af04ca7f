//! `StepConnect`: waits for the machine's sshd and connects, for any
//! builder whose state implements [`SshState`]. It retries with a short
//! backoff (a flat 5 ms while the port is refused, since a refused connect
//! is one RST and costs the server nothing, so kiln connects within a few
//! milliseconds of sshd listening; 5 ms doubling to 25 ms for other
//! failures; 250 ms when a port forwarder accepts and hangs up), bounded by
//! `ssh_timeout` and `ssh_handshake_attempts` (which counts only servers
//! that spoke SSH), and stops at once on cancellation or on errors
//! retrying cannot fix (host key mismatch, unusable key).
//!
//! An attempt that hears nothing back does not hold up the next one: after
//! 250 ms of silence (doubling to 4 s) another attempt starts beside it, up
//! to 4 silent attempts at once (the oldest is dropped for a new one); once
//! one hears from the server,
//! the silent ones are dropped and it finishes alone. Connections go silent
//! for long: qemu's user-mode networking accepts on the host at once, and
//! a connection made while the guest's network is still down stays open
//! and mute long after the guest's sshd listens (measured: one opened 1 s
//! into the boot was still mute 1.2 s after a fresh one got the banner at
//! 25 s); a cloud instance's firewall drops SYNs the same way while it
//! boots. Waiting on the first connection until the handshake's 20 s
//! timeout made kiln connect at ~20 s into a 10 s boot (bench/README.md,
//! "qemu: boot to SSH"). Attempts are not free either: qemu holds every
//! SYN made while the guest's network is down and delivers them all once
//! it is up, each one an sshd fork in a slow emulated guest (a capture
//! showed 54 attempts in a 40 s boot, 33 of them reaching sshd after it
//! listened, delaying kiln's login by ~5 s), hence the 4 s cap. It stores the communicator in the state; its cleanup
//! removes it, which closes the connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::duration::format_go;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::comm::SshCommunicator;
use crate::config::SshConfig;
use crate::connect::{connect_observed, ConnectError, Connection};

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
/// How long the attempts in flight may stay silent (no byte from the
/// server) before another one starts beside them; doubles up to
/// [`STAGGER_MAX`].
const STAGGER_FIRST: Duration = Duration::from_millis(250);
/// The longest wait between silent attempts: every attempt made while a
/// guest boots reaches its sshd later (see the module docs).
const STAGGER_MAX: Duration = Duration::from_secs(4);
/// The most silent attempts in flight at once: well below sshd's default
/// `MaxStartups` (10), so the server never drops one of ours for it.
const MAX_SILENT: usize = 4;

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

/// One connection attempt in flight: set `heard` once the server sent a
/// byte.
struct Attempt<'a> {
    heard: Arc<AtomicBool>,
    run: Pin<Box<dyn Future<Output = Result<Connection, ConnectError>> + Send + 'a>>,
}

/// The result of the first attempt in `inflight` to finish (removed from
/// it); pending forever when there is none.
async fn first_finished(inflight: &mut Vec<Attempt<'_>>) -> Result<Connection, ConnectError> {
    if inflight.is_empty() {
        std::future::pending::<()>().await;
    }
    std::future::poll_fn(|cx| {
        for i in 0..inflight.len() {
            if let Poll::Ready(r) = inflight[i].run.as_mut().poll(cx) {
                inflight.remove(i);
                return Poll::Ready(r);
            }
        }
        Poll::Pending
    })
    .await
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
    let mut stagger = STAGGER_FIRST;
    // The last error an attempt ended with: when `ssh_timeout` cuts the
    // attempts in flight short, it says more than the cut.
    let mut previous: Option<String> = None;
    let mut inflight: Vec<Attempt<'_>> = Vec::new();
    // When the next attempt starts; `None` while an attempt in flight is
    // talking to the server (it finishes first).
    let mut next = Some(Instant::now());
    loop {
        let now = Instant::now();
        if next.is_some_and(|at| at <= now) {
            if inflight.iter().any(|a| a.heard.load(Ordering::Relaxed)) {
                // A server answered: let that attempt finish, alone.
                inflight.retain(|a| a.heard.load(Ordering::Relaxed));
                next = None;
            } else {
                if !inflight.is_empty() {
                    // Staggering: the ones in flight have heard nothing.
                    stagger = (stagger * 2).min(STAGGER_MAX);
                }
                if inflight.len() >= MAX_SILENT {
                    // The oldest has been silent the longest, and a lost
                    // SYN's next retransmission is the furthest away.
                    inflight.remove(0);
                }
                let heard = Arc::new(AtomicBool::new(false));
                inflight.push(Attempt {
                    heard: heard.clone(),
                    run: Box::pin(connect_observed(config, host, heard)),
                });
                attempts += 1;
                next = Some(now + stagger);
            }
        }
        let wake = next.map_or(deadline, |n| n.min(deadline));
        let finished = tokio::select! {
            _ = cancel.cancelled() => return Err(WaitError::Cancelled),
            r = first_finished(&mut inflight) => Some(r),
            _ = tokio::time::sleep_until(wake) => None,
        };
        let e = match finished {
            Some(Ok(c)) => return Ok(c),
            Some(Err(e)) if !e.is_retryable() => return Err(WaitError::Fatal(e)),
            Some(Err(e)) => e,
            None if Instant::now() >= deadline => {
                return Err(WaitError::Timeout {
                    addr,
                    attempts,
                    timeout: format_go(config.timeout),
                    last: previous.unwrap_or_else(|| {
                        "the attempt did not finish before `ssh_timeout`".to_string()
                    }),
                })
            }
            None => continue,
        };
        let cap = if matches!(e, ConnectError::Silent { .. }) {
            SILENT_MAX_BACKOFF
        } else if e.is_refused() {
            REFUSED_BACKOFF
        } else {
            MAX_BACKOFF
        };
        if e.is_handshake() {
            handshakes += 1;
            if handshakes >= config.handshake_attempts {
                return Err(WaitError::Handshakes {
                    attempts: handshakes,
                    last: e,
                });
            }
        }
        let last = e.to_string();
        let retry = Instant::now() + delay;
        if inflight.is_empty() && retry >= deadline {
            return Err(WaitError::Timeout {
                addr,
                attempts,
                timeout: format_go(config.timeout),
                last,
            });
        }
        previous = Some(last);
        // An attempt that fails fast says the path is alive: retry on the
        // backoff, not on the (longer) stagger of the silent ones.
        next = Some(next.map_or(retry, |n| n.min(retry)));
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
