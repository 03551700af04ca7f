//! The step runner: builders are a list of steps sharing a typed state
//! struct, with Packer's cleanup rules.
//!
//! Every step whose `run` was entered (the failing one included) has its
//! `cleanup` called, in reverse order, on success, failure and cancellation.
//! `-on-error` and `-debug` are policies of the runner; steps know nothing of
//! them. Cleanup runs with its own timeout, not under the cancelled token.
//! A step that panics (a bug) fails its build with the panic's message, and
//! the steps entered before it are still cleaned up; so is a panicking
//! cleanup, after which the others run on.
//!
//! Test hook: `KILN_TEST_SIGNAL_AT_STEP=<n>` / `KILN_TEST_SIGNAL_AT_CLEANUP=<n>`
//! make the runner send kiln SIGINT (SIGTERM with `KILN_TEST_SIGNAL=TERM`)
//! when the n-th step or step cleanup starts, and `KILN_TEST_PANIC_AT_STEP`
//! / `KILN_TEST_PANIC_AT_CLEANUP` make one panic (see `step/test_hook.rs`).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::ui::Ui;

mod test_hook;

/// Packer's `-on-error` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Clean up everything (the default).
    #[default]
    Cleanup,
    /// Leave everything as it is, for debugging.
    Abort,
    /// Ask on the terminal: clean up, abort or retry the step.
    Ask,
    /// Like abort, but still run the `error-cleanup-provisioner`.
    RunCleanupProvisioner,
}

impl std::str::FromStr for OnError {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cleanup" => Ok(OnError::Cleanup),
            "abort" => Ok(OnError::Abort),
            "ask" => Ok(OnError::Ask),
            "run-cleanup-provisioner" => Ok(OnError::RunCleanupProvisioner),
            other => Err(format!(
                "`-on-error` must be one of `cleanup`, `abort`, `ask` or `run-cleanup-provisioner`, found `{other}`"
            )),
        }
    }
}

/// What a step asks the runner to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepAction {
    /// Go on with the next step.
    Continue,
    /// Stop here without an error (nothing more to do).
    Halt,
}

/// How a step's cleanup behaves under `-on-error=abort` and
/// `run-cleanup-provisioner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupKind {
    /// Skipped when aborting.
    Resource,
    /// The provisioning step: its cleanup runs the error-cleanup-provisioner,
    /// and it still runs under `run-cleanup-provisioner`.
    ErrorCleanupProvisioner,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The build was cancelled.
    #[error("build was cancelled")]
    Cancelled,
    /// The step failed.
    #[error("{0}")]
    Failed(String),
}

impl StepError {
    /// A failure with this message.
    pub fn msg(message: impl std::fmt::Display) -> Self {
        StepError::Failed(message.to_string())
    }
}

/// A builder's step sequence failing is the build failing, for the same
/// reason: `runner.run(…).await?` in a builder's `run`.
impl From<StepError> for crate::component::BuildError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::Cancelled => crate::component::BuildError::Cancelled,
            StepError::Failed(m) => crate::component::BuildError::Failed(m),
        }
    }
}

/// A component called from a step (the provisioners, a hook) failing is the
/// step failing.
impl From<crate::component::BuildError> for StepError {
    fn from(e: crate::component::BuildError) -> Self {
        match e {
            crate::component::BuildError::Cancelled => StepError::Cancelled,
            crate::component::BuildError::Failed(m) => StepError::Failed(m),
        }
    }
}

/// What a step sees besides the state.
pub struct StepContext<'a> {
    /// The build's UI.
    pub ui: &'a dyn Ui,
    /// Cancelled on Ctrl-C. During cleanup this is a fresh, uncancelled token.
    pub cancel: CancellationToken,
    /// The step ended with an error (visible to `cleanup`).
    pub failed: bool,
}

/// One unit of a builder's work.
#[async_trait]
pub trait Step<S: Send>: Send + Sync {
    /// A stable name for logs, `-debug` pauses and `-on-error=ask`.
    fn name(&self) -> &'static str;
    /// Does the work. Record every resource in `state` *before* the call
    /// that may fail after creating it, so cleanup can find it.
    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError>;
    /// Undoes what `run` recorded in `state`. Idempotent; tolerates a `run`
    /// that stopped halfway; reports problems to the UI and never panics.
    async fn cleanup(&mut self, _cx: &StepContext<'_>, _state: &mut S) {}
    /// See [`CleanupKind`].
    fn cleanup_kind(&self) -> CleanupKind {
        CleanupKind::Resource
    }
}

/// How the sequence ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// Every step continued.
    Completed,
    /// A step halted the sequence without an error.
    Halted,
}

/// How long a cancelled step may take to stop by itself (kill its
/// processes, remove its temp files) before the runner drops it.
pub const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// Awaits a step. On cancellation the step sees its token cancelled and gets
/// [`CANCEL_GRACE`] to wind down on its own; it is dropped only after that.
/// A cancelled run always reports [`StepError::Cancelled`].
async fn run_with_grace<F>(run: F, cancel: &CancellationToken) -> Result<StepAction, StepError>
where
    F: std::future::Future<Output = Result<StepAction, StepError>>,
{
    tokio::pin!(run);
    tokio::select! {
        r = &mut run => r,
        _ = cancel.cancelled() => {
            let _ = tokio::time::timeout(CANCEL_GRACE, &mut run).await;
            Err(StepError::Cancelled)
        }
    }
}

/// A step's (boxed) future whose panic becomes an `Err` with the panic's
/// message, so that a bug in one step fails its build instead of skipping
/// the cleanup of the steps before it.
struct CatchPanic<'a, T>(Pin<Box<dyn Future<Output = T> + Send + 'a>>);

impl<T> Future for CatchPanic<'_, T> {
    type Output = Result<T, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

/// The text a panic was raised with.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Runs steps with Packer's semantics.
pub struct Runner<S> {
    steps: Vec<Box<dyn Step<S>>>,
    on_error: OnError,
    debug: bool,
    cleanup_timeout: Duration,
}

const ASK_PROMPT: &str = "[c] Clean up and exit, [a] abort without cleanup, or [r] retry step (build may fail even if retry succeeds)?";

impl<S: Send> Runner<S> {
    /// A runner over `steps`.
    pub fn new(steps: Vec<Box<dyn Step<S>>>) -> Self {
        Runner {
            steps,
            on_error: OnError::Cleanup,
            debug: false,
            cleanup_timeout: Duration::from_secs(300),
        }
    }

    /// Sets the `-on-error` policy.
    pub fn on_error(mut self, on_error: OnError) -> Self {
        self.on_error = on_error;
        self
    }

    /// Pauses between steps (`-debug`).
    pub fn debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// The time each step's cleanup may take.
    pub fn cleanup_timeout(mut self, timeout: Duration) -> Self {
        self.cleanup_timeout = timeout;
        self
    }

    async fn pause(&self, ui: &dyn Ui, message: String) {
        if let Err(e) = ui.ask(&message).await {
            ui.error(&format!("{e}; not pausing"));
        }
    }

    /// Runs every step in order, then cleans up every entered step in
    /// reverse order (unless the policy says abort).
    pub async fn run(
        mut self,
        ui: &dyn Ui,
        cancel: &CancellationToken,
        state: &mut S,
    ) -> Result<RunOutcome, StepError> {
        let mut entered: Vec<usize> = Vec::new();
        let mut result: Result<RunOutcome, StepError> = Ok(RunOutcome::Completed);
        let mut abort = false;

        'steps: for i in 0..self.steps.len() {
            if cancel.is_cancelled() {
                result = Err(StepError::Cancelled);
                break;
            }
            let name = self.steps[i].name();
            ui.step_started(name);
            entered.push(i);
            let number = test_hook::step_started(name, cancel).await;
            loop {
                let cx = StepContext {
                    ui,
                    cancel: cancel.clone(),
                    failed: false,
                };
                let step = &mut self.steps[i];
                let run = Box::pin(async {
                    test_hook::panic_in_step(number, name);
                    step.run(&cx, state).await
                });
                let outcome = run_with_grace(
                    async {
                        CatchPanic(run).await.unwrap_or_else(|panic| {
                            Err(StepError::msg(format!(
                                "internal error: step `{name}` panicked: {panic}; this is a bug in kiln, please report it"
                            )))
                        })
                    },
                    cancel,
                )
                .await;
                match outcome {
                    Ok(StepAction::Continue) => break,
                    Ok(StepAction::Halt) => {
                        result = Ok(RunOutcome::Halted);
                        break 'steps;
                    }
                    Err(StepError::Cancelled) => {
                        result = Err(StepError::Cancelled);
                        break 'steps;
                    }
                    Err(e) => match self.on_error {
                        OnError::Cleanup => {
                            result = Err(e);
                            break 'steps;
                        }
                        OnError::Abort | OnError::RunCleanupProvisioner => {
                            abort = true;
                            result = Err(e);
                            break 'steps;
                        }
                        OnError::Ask => {
                            ui.error(&format!("Step \"{name}\" failed"));
                            ui.error(&e.to_string());
                            match ui.ask(ASK_PROMPT).await.map(|a| a.trim().to_lowercase()) {
                                Ok(a) if a.starts_with('r') => {
                                    ui.say(&format!("Retrying step \"{name}\"..."));
                                    continue;
                                }
                                Ok(a) if a.starts_with('a') => {
                                    abort = true;
                                    result = Err(e);
                                    break 'steps;
                                }
                                Ok(_) => {
                                    result = Err(e);
                                    break 'steps;
                                }
                                Err(ask_err) => {
                                    ui.error(&format!("{ask_err}; cleaning up"));
                                    result = Err(e);
                                    break 'steps;
                                }
                            }
                        }
                    },
                }
            }
            if self.debug && i + 1 < self.steps.len() {
                self.pause(
                    ui,
                    format!("Pausing after run of step '{name}'. Press enter to continue."),
                )
                .await;
            }
        }

        let failed = result.is_err();
        for &i in entered.iter().rev() {
            let kind = self.steps[i].cleanup_kind();
            if abort {
                let keep_running = self.on_error == OnError::RunCleanupProvisioner
                    && kind == CleanupKind::ErrorCleanupProvisioner;
                if !keep_running {
                    continue;
                }
            }
            let name = self.steps[i].name();
            if self.debug {
                self.pause(
                    ui,
                    format!("Pausing before cleanup of step '{name}'. Press enter to continue."),
                )
                .await;
            }
            let number = test_hook::cleanup_started(name);
            let cx = StepContext {
                ui,
                cancel: CancellationToken::new(),
                failed,
            };
            let step = &mut self.steps[i];
            let cleanup = CatchPanic(Box::pin(async {
                test_hook::panic_in_cleanup(number, name);
                step.cleanup(&cx, state).await
            }));
            match tokio::time::timeout(self.cleanup_timeout, cleanup).await {
                Ok(Ok(())) => {}
                Ok(Err(panic)) => ui.error(&format!(
                    "internal error: cleanup of step `{name}` panicked: {panic}; moving on (this is a bug in kiln, please report it)"
                )),
                Err(_) => ui.error(&format!(
                    "cleanup of step `{name}` did not finish within {}s; moving on",
                    self.cleanup_timeout.as_secs()
                )),
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::RecordingUi;

    #[derive(Default)]
    struct Log(Vec<String>);

    struct S(&'static str, bool);

    #[async_trait]
    impl Step<Log> for S {
        fn name(&self) -> &'static str {
            self.0
        }
        async fn run(
            &mut self,
            _: &StepContext<'_>,
            st: &mut Log,
        ) -> Result<StepAction, StepError> {
            st.0.push(format!("run {}", self.0));
            if self.1 {
                Err(StepError::msg(format!("{} failed", self.0)))
            } else {
                Ok(StepAction::Continue)
            }
        }
        async fn cleanup(&mut self, _: &StepContext<'_>, st: &mut Log) {
            st.0.push(format!("cleanup {}", self.0));
        }
    }

    fn steps(fail_at: Option<usize>) -> Vec<Box<dyn Step<Log>>> {
        ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, n)| Box::new(S(n, fail_at == Some(i))) as Box<dyn Step<Log>>)
            .collect()
    }

    #[tokio::test]
    async fn cleans_up_every_entered_step_in_reverse() {
        let ui = RecordingUi::default();
        let mut log = Log::default();
        let r = Runner::new(steps(Some(1)))
            .run(&ui, &CancellationToken::new(), &mut log)
            .await;
        assert!(r.is_err());
        assert_eq!(log.0, ["run a", "run b", "cleanup b", "cleanup a"]);
    }

    /// A step that panics in `run` (`"run"`) or in `cleanup` (`"cleanup"`).
    struct Panics(&'static str);

    #[async_trait]
    impl Step<Log> for Panics {
        fn name(&self) -> &'static str {
            "panics"
        }
        async fn run(
            &mut self,
            _: &StepContext<'_>,
            st: &mut Log,
        ) -> Result<StepAction, StepError> {
            st.0.push("run panics".into());
            if self.0 == "run" {
                panic!("index out of bounds: the len is 0 but the index is 3");
            }
            Ok(StepAction::Continue)
        }
        async fn cleanup(&mut self, _: &StepContext<'_>, st: &mut Log) {
            st.0.push("cleanup panics".into());
            if self.0 == "cleanup" {
                panic!("{}", String::from("a formatted panic"));
            }
        }
    }

    #[tokio::test]
    async fn a_panicking_step_fails_the_build_and_the_entered_steps_are_cleaned_up() {
        let ui = RecordingUi::default();
        let mut log = Log::default();
        let mut list = steps(None);
        list.insert(2, Box::new(Panics("run")));
        let r = Runner::new(list)
            .run(&ui, &CancellationToken::new(), &mut log)
            .await;
        let e = r.unwrap_err().to_string();
        assert_eq!(
            e,
            "internal error: step `panics` panicked: index out of bounds: the len is 0 but the index is 3; this is a bug in kiln, please report it"
        );
        assert_eq!(
            log.0,
            [
                "run a",
                "run b",
                "run panics",
                "cleanup panics",
                "cleanup b",
                "cleanup a"
            ]
        );
    }

    #[tokio::test]
    async fn a_panicking_cleanup_is_reported_and_the_others_run_on() {
        let ui = RecordingUi::default();
        let mut log = Log::default();
        let mut list = steps(None);
        list.insert(1, Box::new(Panics("cleanup")));
        let r = Runner::new(list)
            .run(&ui, &CancellationToken::new(), &mut log)
            .await;
        assert!(r.is_ok());
        assert_eq!(
            log.0,
            [
                "run a",
                "run panics",
                "run b",
                "run c",
                "cleanup c",
                "cleanup b",
                "cleanup panics",
                "cleanup a"
            ]
        );
        assert!(
            ui.lines().iter().any(|l| l.contains(
                "internal error: cleanup of step `panics` panicked: a formatted panic; moving on"
            )),
            "{:?}",
            ui.lines()
        );
    }

    #[tokio::test]
    async fn abort_skips_cleanup() {
        let ui = RecordingUi::default();
        let mut log = Log::default();
        let r = Runner::new(steps(Some(2)))
            .on_error(OnError::Abort)
            .run(&ui, &CancellationToken::new(), &mut log)
            .await;
        assert!(r.is_err());
        assert_eq!(log.0, ["run a", "run b", "run c"]);
    }

    #[tokio::test]
    async fn ask_retry_runs_the_step_again() {
        let ui = RecordingUi::with_answers(&["r", "c"]);
        let mut log = Log::default();
        let r = Runner::new(steps(Some(0)))
            .on_error(OnError::Ask)
            .run(&ui, &CancellationToken::new(), &mut log)
            .await;
        assert!(r.is_err());
        assert_eq!(log.0, ["run a", "run a", "cleanup a"]);
    }

    #[tokio::test]
    async fn cancelled_before_start_runs_nothing() {
        let ui = RecordingUi::default();
        let mut log = Log::default();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let r = Runner::new(steps(None)).run(&ui, &cancel, &mut log).await;
        assert!(matches!(r, Err(StepError::Cancelled)));
        assert!(log.0.is_empty());
    }
}
