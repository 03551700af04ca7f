//! The UI contract: every line a component shows the user goes through a
//! [`Ui`], never straight to stdout. The core supplies implementations for
//! Packer's human output, `-machine-readable` lines and JSON events; all of
//! them scrub the values registered with the [`Redactor`].

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

/// What a component uses to talk to the user. Implementations are cheap to
/// call from many tasks at once and never panic on a closed stream.
#[async_trait]
pub trait Ui: Send + Sync {
    /// A headline (`==> name: …`).
    fn say(&self, message: &str);
    /// Detail or command output (`    name: …`).
    fn message(&self, message: &str);
    /// An error line (`==> name: …` on stderr, red).
    fn error(&self, message: &str);
    /// A machine-readable record (`timestamp,target,kind,args…`). The human
    /// UI ignores it.
    fn machine(&self, kind: &str, args: &[&str]);
    /// A step started; drives the live view and JSON events. No output in the
    /// plain log.
    fn step_started(&self, _step: &str) {}
    /// Asks the user a question on the terminal and returns the answer line.
    /// Fails when there is no interactive terminal.
    async fn ask(&self, question: &str) -> Result<String, UiError>;
}

/// Why [`Ui::ask`] could not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// stdin is not a terminal (CI, pipes, `-machine-readable`).
    #[error("cannot ask `{0}`: kiln is not attached to an interactive terminal")]
    NotInteractive(String),
    /// Reading the answer failed.
    #[error("failed to read an answer from the terminal: {0}")]
    Io(#[from] std::io::Error),
}

/// The placeholder that replaces every secret in output.
pub const REDACTED: &str = "<sensitive>";

/// The set of secret values to scrub from all output. Shared between the
/// template loader (sensitive variables), components (passwords, keys) and
/// every UI implementation.
#[derive(Clone, Default, Debug)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    /// An empty redactor.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret. Empty strings are ignored (they would match
    /// everywhere). Longer secrets are replaced first so that a secret that
    /// contains another is scrubbed whole.
    pub fn add(&self, secret: impl Into<String>) {
        let secret = secret.into();
        if secret.is_empty() {
            return;
        }
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        if !secrets.contains(&secret) {
            secrets.push(secret);
            secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Replaces every registered secret in `text` with [`REDACTED`].
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let mut out = Cow::Borrowed(text);
        for secret in secrets.iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        out
    }

    /// True when no secret is registered.
    pub fn is_empty(&self) -> bool {
        self.secrets.read().map(|s| s.is_empty()).unwrap_or(true)
    }
}

/// A [`Ui`] that records every call; for unit tests of components.
#[derive(Default)]
pub struct RecordingUi {
    lines: std::sync::Mutex<Vec<String>>,
    answers: std::sync::Mutex<Vec<String>>,
}

impl RecordingUi {
    /// A recording UI whose `ask` returns `answers` in order.
    pub fn with_answers(answers: &[&str]) -> Self {
        RecordingUi {
            lines: Default::default(),
            answers: std::sync::Mutex::new(answers.iter().rev().map(|s| s.to_string()).collect()),
        }
    }

    /// Everything recorded so far, one entry per call, prefixed by kind.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn push(&self, line: String) {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }
}

#[async_trait]
impl Ui for RecordingUi {
    fn say(&self, message: &str) {
        self.push(format!("say: {message}"));
    }
    fn message(&self, message: &str) {
        self.push(format!("message: {message}"));
    }
    fn error(&self, message: &str) {
        self.push(format!("error: {message}"));
    }
    fn machine(&self, kind: &str, args: &[&str]) {
        self.push(format!("machine: {kind},{}", args.join(",")));
    }
    fn step_started(&self, step: &str) {
        self.push(format!("step: {step}"));
    }
    async fn ask(&self, question: &str) -> Result<String, UiError> {
        self.push(format!("ask: {question}"));
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .ok_or_else(|| UiError::NotInteractive(question.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_longest_first() {
        let r = Redactor::new();
        r.add("abc");
        r.add("abcdef");
        r.add("");
        assert_eq!(r.redact("x abcdef y abc"), "x <sensitive> y <sensitive>");
        assert_eq!(r.redact("nothing here"), "nothing here");
    }
}
