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
//! - `KILN_TEST_PANIC_AT_STEP=<n>` / `KILN_TEST_PANIC_AT_CLEANUP=<n>`: the
//!   n-th step panics inside its run (or its cleanup), as a bug would, to
//!   show that the runner turns the panic into the build's error (or an
//!   error line) and still cleans up every step entered, and that the panic's
//!   message does not garble the live view.
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
    crate::ui::diagnostic(&format!(
        "kiln test hook: {} at {at} `{name}`",
        sig.as_str()
    ));
    let _ = kill(nix::unistd::Pid::this(), sig);
}

/// Called when a step starts; returns the step's number in this process.
pub(super) async fn step_started(name: &str, cancel: &CancellationToken) -> usize {
    let n = STEPS.fetch_add(1, Ordering::SeqCst) + 1;
    if wanted("KILN_TEST_SIGNAL_AT_STEP") == Some(n) {
        signal("step", name);
        let _ = tokio::time::timeout(Duration::from_secs(10), cancel.cancelled()).await;
    }
    n
}

/// Called inside step number `n`'s run: panics there when
/// `KILN_TEST_PANIC_AT_STEP` asks for it, as a bug in a step would.
pub(super) fn panic_in_step(n: usize, name: &str) {
    if wanted("KILN_TEST_PANIC_AT_STEP") == Some(n) {
        crate::ui::diagnostic(&format!("kiln test hook: panic in step `{name}`"));
        panic!("kiln test hook: a panic in step `{name}`");
    }
}

/// Called when a step's cleanup starts; returns the cleanup's number in
/// this process.
pub(super) fn cleanup_started(name: &str) -> usize {
    let n = CLEANUPS.fetch_add(1, Ordering::SeqCst) + 1;
    if wanted("KILN_TEST_SIGNAL_AT_CLEANUP") == Some(n) {
        signal("cleanup of step", name);
    }
    n
}

/// Called inside cleanup number `n`: panics there when
/// `KILN_TEST_PANIC_AT_CLEANUP` asks for it.
pub(super) fn panic_in_cleanup(n: usize, name: &str) {
    if wanted("KILN_TEST_PANIC_AT_CLEANUP") == Some(n) {
        crate::ui::diagnostic(&format!(
            "kiln test hook: panic in cleanup of step `{name}`"
        ));
        panic!("kiln test hook: a panic in cleanup of step `{name}`");
    }
}
