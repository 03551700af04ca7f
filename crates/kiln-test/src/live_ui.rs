//! A recording [`Ui`] that also records what only the live view shows: a
//! component's activity ([`Ui::activity`]) and transfer progress
//! ([`Ui::progress`]), for tests that check these reach kiln's UI (through a
//! plugin's UI proxy, say). Stores every call, in order; nothing to clean
//! up.

use std::sync::Mutex;

use async_trait::async_trait;
use kiln_sdk::ui::{RecordingUi, Ui, UiError};

/// A call only the live view shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// [`Ui::activity`]: what the component does now (`None`: nothing).
    Activity(Option<String>),
    /// [`Ui::progress`].
    Progress {
        /// What is transferred (`upload`, a file name).
        label: String,
        /// How much is done.
        done: u64,
        /// Of how much (0 when unknown).
        total: u64,
    },
}

/// A [`RecordingUi`] (its `lines` are the other calls) that records
/// [`Live`] calls too.
#[derive(Default)]
pub struct LiveRecordingUi {
    lines: RecordingUi,
    live: Mutex<Vec<Live>>,
}

impl LiveRecordingUi {
    /// The calls other than activity and progress, as
    /// [`RecordingUi::lines`] gives them.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lines()
    }

    /// The activity and progress calls so far, in order.
    pub fn live(&self) -> Vec<Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The progress calls so far, as `(label, done, total)`.
    pub fn progress_reports(&self) -> Vec<(String, u64, u64)> {
        self.live()
            .into_iter()
            .filter_map(|l| match l {
                Live::Progress { label, done, total } => Some((label, done, total)),
                Live::Activity(_) => None,
            })
            .collect()
    }

    fn push(&self, l: Live) {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).push(l);
    }
}

#[async_trait]
impl Ui for LiveRecordingUi {
    fn say(&self, message: &str) {
        self.lines.say(message)
    }
    fn message(&self, message: &str) {
        self.lines.message(message)
    }
    fn error(&self, message: &str) {
        self.lines.error(message)
    }
    fn machine(&self, kind: &str, args: &[&str]) {
        self.lines.machine(kind, args)
    }
    fn step_started(&self, step: &str) {
        self.lines.step_started(step)
    }
    fn activity(&self, what: Option<&str>) {
        self.push(Live::Activity(what.map(String::from)))
    }
    fn progress(&self, label: &str, done: u64, total: u64) {
        self.push(Live::Progress {
            label: label.into(),
            done,
            total,
        })
    }
    async fn ask(&self, question: &str) -> Result<String, UiError> {
        self.lines.ask(question).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_live_calls_apart_from_lines() {
        let ui = LiveRecordingUi::default();
        ui.say("hello");
        ui.activity(Some("sha256 1/2"));
        ui.progress("upload", 3, 10);
        ui.activity(None);
        assert!(ui.ask("name?").await.is_err());
        assert_eq!(ui.lines(), ["say: hello", "ask: name?"]);
        assert_eq!(
            ui.live(),
            [
                Live::Activity(Some("sha256 1/2".into())),
                Live::Progress {
                    label: "upload".into(),
                    done: 3,
                    total: 10
                },
                Live::Activity(None),
            ]
        );
        assert_eq!(ui.progress_reports(), [("upload".to_string(), 3, 10)]);
    }
}
