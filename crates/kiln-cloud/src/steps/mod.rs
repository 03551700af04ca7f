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

/// One line a step shows, worded by the cloud's `…Api` implementation
/// (Packer's `ui.Say` or `ui.Message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A step-level line (`==> build: …`).
    Say(String),
    /// A detail line (`    build: …`).
    Message(String),
}

impl Line {
    /// Shows the line on `ui`.
    pub fn show(&self, ui: &dyn kiln_sdk::Ui) {
        match self {
            Line::Say(s) => ui.say(s),
            Line::Message(s) => ui.message(s),
        }
    }
}

/// A UI line of a cloud's wording (Packer's, per cloud): a template whose
/// `{name}` placeholders each family fills (`{id}`, `{region}`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// A headline ([`kiln_sdk::Ui::say`]).
    Say(&'static str),
    /// A detail ([`kiln_sdk::Ui::message`]).
    Message(&'static str),
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
        match t {
            Text::Say(s) => ui.say(&fill(s, values)),
            Text::Message(s) => ui.message(&fill(s, values)),
        }
    }
}

/// Test support shared by every family's unit tests: a step context over
/// a recording UI, and the errors an in-memory fake cloud answers with.
#[cfg(test)]
pub(crate) mod testing {
    use std::time::Duration;

    use kiln_sdk::step::StepContext;
    use kiln_sdk::ui::RecordingUi;
    use tokio_util::sync::CancellationToken;

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
        ApiError {
            service: "Fake".into(),
            action: action.into(),
            endpoint: "http://fake.invalid".into(),
            setting: None,
            fault: Fault::new(
                Failure::Service {
                    code: code.into(),
                    message: format!("{action} failed"),
                    status: Some(400),
                },
                ErrorClass::Permanent,
            ),
            attempts: 1,
            elapsed: Duration::ZERO,
        }
    }
}
