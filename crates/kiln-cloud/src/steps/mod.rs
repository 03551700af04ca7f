//! The steps every cloud builder repeats, written once and generic over
//! the cloud's client: a temporary key pair; a temporary network, subnet
//! and security group when none is given; run the instance and wait; stop
//! it; create the image and wait; copy it to other regions (all at once,
//! each wait overlapped); share it; tag it; destroy the artifact.
//!
//! Each family follows one pattern:
//! - an `…Api` trait: the cloud calls the step needs (async, each returning
//!   `Result<_, ApiError>`), implemented by the builder crate on its client
//!   wrapper, which makes every call retried and idempotent through
//!   [`crate::Api`] (`create` adopts on a retry, `delete` treats "not
//!   found" as done) and tags what it creates with the run tags;
//! - a `…State` trait: what the step reads from the builder's typed state
//!   and records in it (always *before* the call that may fail after
//!   creating the resource, so cleanup finds it);
//! - a `Step…` struct implementing `kiln_sdk::step::Step<S>` for every
//!   `S` with that state trait; its cleanup undoes exactly what it
//!   recorded, idempotently, and reports problems without failing;
//! - the UI lines follow Packer's wording for each cloud; where clouds
//!   differ, the wording comes from the `…Api` implementation.
//!
//! Each file's unit tests drive its steps with an in-memory fake cloud.

pub mod image;
pub mod instance;
pub mod key_pair;
pub mod network;

/// A wait that ended without the resource ready, as a step's error:
/// cancellation stays cancellation, anything else is the poller's message
/// (shared by every family's waits).
pub fn wait_error<E: std::fmt::Display>(e: crate::PollError<E>) -> kiln_sdk::step::StepError {
    match e {
        crate::PollError::Cancelled { .. } => kiln_sdk::step::StepError::Cancelled,
        e => kiln_sdk::step::StepError::msg(e),
    }
}

/// A failed cloud call as a step's error: cancellation when the build was
/// cancelled meanwhile (the call gave up because of it), else `message`
/// (the cloud's wording of the failure).
pub fn call_error(
    cancel: &tokio_util::sync::CancellationToken,
    message: impl std::fmt::Display,
) -> kiln_sdk::step::StepError {
    if cancel.is_cancelled() {
        kiln_sdk::step::StepError::Cancelled
    } else {
        kiln_sdk::step::StepError::msg(message)
    }
}

/// One line a step shows (Packer's `ui.Say` or `ui.Message`), in the
/// cloud's wording: `S` is its text, a `String` once worded (what an
/// `…Api` implementation returns), or a template ([`Text`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<S = String> {
    /// A step-level line (`==> build: …`, [`kiln_sdk::Ui::say`]).
    Say(S),
    /// A detail line (`    build: …`, [`kiln_sdk::Ui::message`]).
    Message(S),
}

/// A UI line of a cloud's wording (Packer's, per cloud): a template whose
/// `{name}` placeholders each family fills (`{id}`, `{region}`, …).
pub type Text = Line<&'static str>;

impl<S: AsRef<str>> Line<S> {
    /// Shows the line on `ui`.
    pub fn show(&self, ui: &dyn kiln_sdk::Ui) {
        match self {
            Line::Say(s) => ui.say(s.as_ref()),
            Line::Message(s) => ui.message(s.as_ref()),
        }
    }
}

impl Text {
    /// The line with each `{name}` of `values` replaced ([`fill`]).
    pub fn fill(&self, values: &[(&str, &str)]) -> Line {
        match self {
            Line::Say(t) => Line::Say(fill(t, values)),
            Line::Message(t) => Line::Message(fill(t, values)),
        }
    }
}

/// `template` with each `{name}` of `values` replaced, in one pass (a
/// value that looks like a placeholder stays as it is); other braces are
/// kept.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let key = &after[..close];
            values
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v, close))
        });
        match value {
            Some((v, close)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Shows `texts` on `ui`, each filled with `values`.
pub fn show(texts: &[Text], ui: &dyn kiln_sdk::Ui, values: &[(&str, &str)]) {
    for t in texts {
        t.fill(values).show(ui);
    }
}

/// Test support shared by every family's unit tests: a step context over
/// a recording UI, the errors an in-memory fake cloud answers with, and
/// its call log with the failures to inject ([`testing::FakeCalls`]).
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Mutex;

    use kiln_sdk::step::StepContext;
    use kiln_sdk::ui::RecordingUi;
    use tokio_util::sync::CancellationToken;

    use crate::error::testing::api_error;
    use crate::{ApiError, ErrorClass, Failure, Fault};

    /// A step context showing on `ui`, cancelled through `cancel`.
    pub(crate) fn context<'a>(ui: &'a RecordingUi, cancel: &CancellationToken) -> StepContext<'a> {
        StepContext {
            ui,
            cancel: cancel.clone(),
            failed: false,
        }
    }

    /// The error a fake cloud answers with: the service's `code`, not
    /// retryable.
    pub(crate) fn service_error(action: &str, code: &str) -> ApiError {
        refusal(action, code, &format!("{action} failed"))
    }

    /// [`service_error`] with the service's own `message`.
    pub(crate) fn refusal(action: &str, code: &str, message: &str) -> ApiError {
        let failure = Failure::Service {
            code: code.into(),
            message: message.into(),
            status: Some(400),
        };
        api_error(action, Fault::new(failure, ErrorClass::Permanent), 1)
    }

    /// A fake cloud's call log and the failures it is to answer with:
    /// each fake records its calls (`stop i-1`) and, at each fault point
    /// (a name it checks at one place: `stop`, `create vpc`), answers
    /// with the error injected there, if any.
    #[derive(Default)]
    pub(crate) struct FakeCalls(Mutex<Log>);

    #[derive(Default)]
    struct Log {
        calls: Vec<String>,
        /// Fault point, how many more times it fails, the error.
        faults: Vec<(String, u32, ApiError)>,
    }

    impl FakeCalls {
        /// Every call recorded so far, in order.
        pub(crate) fn calls(&self) -> Vec<String> {
            self.log().calls.clone()
        }

        /// Records `call` (its name, then its arguments).
        pub(crate) fn record(&self, call: impl Into<String>) {
            self.log().calls.push(call.into());
        }

        /// How many calls recorded so far start with `name`.
        pub(crate) fn count(&self, name: &str) -> usize {
            self.log()
                .calls
                .iter()
                .filter(|c| c.starts_with(name))
                .count()
        }

        /// Makes fault point `point` answer with `error` the next `times`
        /// times it is reached ([`ALWAYS`]: every time).
        pub(crate) fn fail(&self, point: &str, times: u32, error: ApiError) {
            self.log().faults.push((point.into(), times, error));
        }

        /// The error injected at `point`, if one is due (one fewer left).
        #[allow(clippy::result_large_err)]
        pub(crate) fn fault(&self, point: &str) -> Result<(), ApiError> {
            let mut log = self.log();
            let due = log
                .faults
                .iter_mut()
                .find(|(p, left, _)| p == point && *left > 0);
            match due {
                Some((_, left, error)) => {
                    if *left != ALWAYS {
                        *left -= 1;
                    }
                    Err(error.clone())
                }
                None => Ok(()),
            }
        }

        fn log(&self) -> std::sync::MutexGuard<'_, Log> {
            self.0.lock().unwrap()
        }
    }

    /// [`FakeCalls::fail`] every time.
    pub(crate) const ALWAYS: u32 = u32::MAX;
}
