//! A test hook of the step runner: it sends kiln a signal when a given step
//! (or a given step's cleanup) starts, so that the fault-matrix tests can
//! press Ctrl-C at every step boundary of a real build.
//!
//! - `KILN_TEST_SIGNAL_AT_STEP=<n>`: when the n-th step to start in this
//!   process starts (counting from 1, across every build of the process),
//!   the runner sends the process SIGINT and waits (at most 10 s) until the
//!   build's cancellation token fires, so the step runs cancelled.
//! - `KILN_TEST_SIGNAL_AT_CLEANUP=<n>`: the same when the n-th step cleanup
//!   starts (cleanups run in reverse order); the cleanup then runs on.
//! - `KILN_TEST_SIGNAL=TERM` sends SIGTERM instead of SIGINT.
//!
//! Each firing prints `kiln test hook: SIG… at step `<name>`` on stderr. The
//! hook is for tests only: without these variables it does nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

static STEPS: AtomicUsize = AtomicUsize::new(0);
static CLEANUPS: AtomicUsize = AtomicUsize::new(0);

/// The `n` the variable asks for, if any.
fn wanted(var: &str) -> Option<usize> {
    std::env::var(var).ok()?.trim().parse().ok()
}

fn signal(at: &str, name: &str) {
    use nix::sys::signal::{kill, Signal};
    let sig = match std::env::var("KILN_TEST_SIGNAL").as_deref() {
        Ok("TERM") => Signal::SIGTERM,
        _ => Signal::SIGINT,
    };
    eprintln!("kiln test hook: {} at {at} `{name}`", sig.as_str());
    let _ = kill(nix::unistd::Pid::this(), sig);
}

/// Called when a step starts.
pub(super) async fn step_started(name: &str, cancel: &CancellationToken) {
    let n = STEPS.fetch_add(1, Ordering::SeqCst) + 1;
    if wanted("KILN_TEST_SIGNAL_AT_STEP") == Some(n) {
        signal("step", name);
        let _ = tokio::time::timeout(Duration::from_secs(10), cancel.cancelled()).await;
    }
}

/// Called when a step's cleanup starts.
pub(super) fn cleanup_started(name: &str) {
    let n = CLEANUPS.fetch_add(1, Ordering::SeqCst) + 1;
    if wanted("KILN_TEST_SIGNAL_AT_CLEANUP") == Some(n) {
        signal("cleanup of step", name);
    }
}
