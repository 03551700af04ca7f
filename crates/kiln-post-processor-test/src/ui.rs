//! A [`Ui`] for the builder's boot that forwards every call, over a
//! channel, to the post-processor's borrowed UI: a boot needs an owned
//! `Arc<dyn Ui>`, and the post-processor only borrows its UI. The
//! post-processor drains the channel while the boot runs, so lines keep
//! their order and questions (`-on-error=ask`, `-debug`) get answers. Holds
//! nothing but the channel.

use async_trait::async_trait;
use kiln_sdk::ui::{Ui, UiError};
use tokio::sync::{mpsc, oneshot};

/// One forwarded call.
pub enum Call {
    Say(String),
    Message(String),
    Error(String),
    Machine(String, Vec<String>),
    StepStarted(String),
    Activity(Option<String>),
    Progress(String, u64, u64),
    Event(serde_json::Value),
    Ask(String, oneshot::Sender<Result<String, UiError>>),
}

/// See the module docs.
pub struct ForwardUi(mpsc::UnboundedSender<Call>);

impl ForwardUi {
    /// A UI and the receiving end to drain with [`deliver`].
    pub fn new() -> (ForwardUi, mpsc::UnboundedReceiver<Call>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (ForwardUi(tx), rx)
    }

    fn send(&self, c: Call) {
        // The receiver lives as long as the boot: a send cannot fail
        // before the boot returns.
        let _ = self.0.send(c);
    }
}

/// Performs `call` on `ui`.
pub async fn deliver(ui: &dyn Ui, call: Call) {
    match call {
        Call::Say(m) => ui.say(&m),
        Call::Message(m) => ui.message(&m),
        Call::Error(m) => ui.error(&m),
        Call::Machine(kind, args) => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ui.machine(&kind, &args);
        }
        Call::StepStarted(s) => ui.step_started(&s),
        Call::Activity(a) => ui.activity(a.as_deref()),
        Call::Progress(l, d, t) => ui.progress(&l, d, t),
        Call::Event(e) => ui.event(e),
        Call::Ask(q, reply) => {
            let _ = reply.send(ui.ask(&q).await);
        }
    }
}

#[async_trait]
impl Ui for ForwardUi {
    fn say(&self, message: &str) {
        self.send(Call::Say(message.into()));
    }
    fn message(&self, message: &str) {
        self.send(Call::Message(message.into()));
    }
    fn error(&self, message: &str) {
        self.send(Call::Error(message.into()));
    }
    fn machine(&self, kind: &str, args: &[&str]) {
        self.send(Call::Machine(
            kind.into(),
            args.iter().map(|a| a.to_string()).collect(),
        ));
    }
    fn step_started(&self, step: &str) {
        self.send(Call::StepStarted(step.into()));
    }
    fn activity(&self, what: Option<&str>) {
        self.send(Call::Activity(what.map(str::to_string)));
    }
    fn progress(&self, label: &str, done: u64, total: u64) {
        self.send(Call::Progress(label.into(), done, total));
    }
    fn event(&self, event: serde_json::Value) {
        self.send(Call::Event(event));
    }
    async fn ask(&self, question: &str) -> Result<String, UiError> {
        let (tx, rx) = oneshot::channel();
        self.send(Call::Ask(question.into(), tx));
        rx.await
            .unwrap_or_else(|_| Err(UiError::NotInteractive(question.to_string())))
    }
}
