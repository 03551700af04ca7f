//! The pieces both sides share: a [`Communicator`] that forwards every call
//! over the connection ([`CommProxy`]), the code that serves those calls
//! with a real communicator ([`serve_comm`]), and UI lines, activity and
//! progress as messages ([`UiProxy`], [`show_ui`]), and what a side serves
//! during its own call ([`Services`]). File contents never travel inside
//! messages: plugins run on the same machine as kiln, so uploads and
//! downloads name local (temporary) files, which keeps transfers streaming. Holds only
//! temporary files, removed when each call ends, and when a UI proxy last
//! sent progress.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiln_sdk::communicator::NoCommunicator;
use kiln_sdk::communicator::{
    CommandOutput, Communicator, CommunicatorError, ExitStatus, FileMeta, RemoteCommand,
};
use kiln_sdk::component::{BuildError, GeneratedData, HookEvent};
use kiln_sdk::ui::{Redactor, Ui, UiError};
use kiln_sdk::Hook;
use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::peer::{Callbacks, NoCallbacks, Peer};
use crate::protocol::{WireError, CAP_UI_PROGRESS};

/// A communicator on the other side of the connection.
pub struct CommProxy {
    /// The connection.
    pub peer: Peer,
    /// The other side's call this communicator's requests belong to.
    pub call: Option<u64>,
}

struct OutputLines<'a> {
    output: &'a CommandOutput<'a>,
}

#[async_trait]
impl Callbacks for OutputLines<'_> {
    fn notify(&self, method: &str, params: Value) {
        if method != "output" {
            return;
        }
        let line = params["line"].as_str().unwrap_or_default();
        match params["stream"].as_str() {
            Some("stderr") => (self.output.stderr)(line),
            _ => (self.output.stdout)(line),
        }
    }
    async fn request(
        &self,
        p: &Peer,
        id: u64,
        method: &str,
        params: Value,
    ) -> Result<Value, WireError> {
        NoCallbacks.request(p, id, method, params).await
    }
}

fn comm_err(e: WireError) -> CommunicatorError {
    CommunicatorError::Failed(e.message)
}

fn io_err(what: &str, e: std::io::Error) -> CommunicatorError {
    CommunicatorError::Failed(format!("{what}: {e}"))
}

impl CommProxy {
    async fn call(&self, method: &str, params: Value) -> Result<Value, CommunicatorError> {
        self.peer
            .call(method, params, self.call, &NoCallbacks, None)
            .await
            .map_err(comm_err)
    }
}

/// Encodes an exit status for the wire.
pub fn exit_to_wire(s: &ExitStatus) -> Value {
    match s {
        ExitStatus::Code(c) => json!({ "code": c }),
        ExitStatus::Signal(n) => json!({ "signal": n }),
        ExitStatus::RemoteSignal(name) => json!({ "signal_name": name }),
        ExitStatus::Disconnected => json!({ "disconnected": true }),
    }
}

/// Decodes an exit status from the wire.
pub fn exit_from_wire(v: &Value) -> ExitStatus {
    if let Some(c) = v["code"].as_i64() {
        ExitStatus::Code(c as i32)
    } else if let Some(n) = v["signal"].as_i64() {
        ExitStatus::Signal(n as i32)
    } else if let Some(name) = v["signal_name"].as_str() {
        ExitStatus::RemoteSignal(name.to_string())
    } else {
        ExitStatus::Disconnected
    }
}

#[async_trait]
impl Communicator for CommProxy {
    async fn start(
        &self,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        let r = self
            .peer
            .call(
                "comm.start",
                json!({ "command": command.command }),
                self.call,
                &OutputLines { output: &output },
                None,
            )
            .await
            .map_err(comm_err)?;
        Ok(exit_from_wire(&r))
    }

    async fn upload(
        &self,
        destination: &str,
        source: &mut (dyn AsyncRead + Send + Unpin),
        meta: FileMeta,
    ) -> Result<(), CommunicatorError> {
        let tmp = tempfile::NamedTempFile::new()
            .map_err(|e| io_err("cannot create a temporary file", e))?;
        let mut f = tokio::fs::File::create(tmp.path())
            .await
            .map_err(|e| io_err("cannot write a temporary file", e))?;
        tokio::io::copy(source, &mut f)
            .await
            .map_err(|e| io_err("cannot write a temporary file", e))?;
        drop(f);
        self.call(
            "comm.upload",
            json!({
                "destination": destination,
                "source_file": tmp.path(),
                "mode": meta.mode,
                "mtime": meta.mtime.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs()),
            }),
        )
        .await?;
        Ok(())
    }

    async fn upload_dir(
        &self,
        destination: &str,
        source: &Path,
        exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        let source = std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf());
        // Keep Packer's trailing-slash meaning across the absolute path.
        let mut s = source.to_string_lossy().into_owned();
        if source.as_os_str().to_string_lossy().ends_with('/') && !s.ends_with('/') {
            s.push('/');
        }
        self.call(
            "comm.upload_dir",
            json!({ "destination": destination, "source": s, "exclude": exclude }),
        )
        .await?;
        Ok(())
    }

    async fn download(
        &self,
        source: &str,
        destination: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        let tmp = tempfile::NamedTempFile::new()
            .map_err(|e| io_err("cannot create a temporary file", e))?;
        self.call(
            "comm.download",
            json!({ "source": source, "destination_file": tmp.path() }),
        )
        .await?;
        let mut f = tokio::fs::File::open(tmp.path())
            .await
            .map_err(|e| io_err("cannot read the downloaded file", e))?;
        tokio::io::copy(&mut f, destination)
            .await
            .map_err(|e| io_err("cannot write the downloaded file", e))?;
        Ok(())
    }

    async fn download_dir(
        &self,
        source: &str,
        destination: &Path,
        exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        let destination =
            std::path::absolute(destination).unwrap_or_else(|_| destination.to_path_buf());
        self.call(
            "comm.download_dir",
            json!({ "source": source, "destination": destination, "exclude": exclude }),
        )
        .await?;
        Ok(())
    }
}

fn failed(e: impl std::fmt::Display) -> WireError {
    WireError::new("failed", e.to_string())
}

fn param<'a>(params: &'a Value, key: &str) -> Result<&'a str, WireError> {
    params[key]
        .as_str()
        .ok_or_else(|| WireError::new("failed", format!("missing string parameter `{key}`")))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Serves one `comm.*` request with `comm`; an upload's bytes are
/// reported to `ui` as progress (the live view's bar). `None` when
/// `method` is not a communicator method.
pub async fn serve_comm(
    comm: &dyn Communicator,
    ui: &dyn Ui,
    peer: &Peer,
    id: u64,
    method: &str,
    params: &Value,
) -> Option<Result<Value, WireError>> {
    let r = match method {
        "comm.start" => {
            let command = RemoteCommand {
                command: match param(params, "command") {
                    Ok(c) => c.to_string(),
                    Err(e) => return Some(Err(e)),
                },
            };
            let out = |stream: &'static str| {
                let peer = peer.clone();
                move |line: &str| {
                    peer.notify(
                        "output",
                        json!({ "stream": stream, "line": line }),
                        Some(id),
                    )
                }
            };
            let (so, se) = (out("stdout"), out("stderr"));
            comm.start(
                &command,
                CommandOutput {
                    stdout: &so,
                    stderr: &se,
                },
            )
            .await
            .map(|s| exit_to_wire(&s))
            .map_err(failed)
        }
        "comm.upload" => {
            async {
                let dest = param(params, "destination")?;
                let src = PathBuf::from(param(params, "source_file")?);
                let mut f = tokio::fs::File::open(&src)
                    .await
                    .map_err(|e| failed(format!("cannot open `{}`: {e}", src.display())))?;
                let size = f.metadata().await.ok().map(|m| m.len());
                let meta = FileMeta {
                    mode: params["mode"].as_u64().map(|m| m as u32),
                    mtime: params["mtime"]
                        .as_u64()
                        .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s)),
                    size,
                };
                // The live view's bar for the plugin's upload, as for a
                // built-in provisioner's (the file's size is known here).
                let total = size.unwrap_or(0);
                let mut f = kiln_sdk::ui::ProgressReader::new(&mut f, ui, "upload", total);
                comm.upload(dest, &mut f, meta).await.map_err(failed)?;
                Ok(Value::Null)
            }
            .await
        }
        "comm.download" => {
            async {
                let src = param(params, "source")?;
                let dest = PathBuf::from(param(params, "destination_file")?);
                let mut f = tokio::fs::File::create(&dest)
                    .await
                    .map_err(|e| failed(format!("cannot create `{}`: {e}", dest.display())))?;
                comm.download(src, &mut f).await.map_err(failed)?;
                use tokio::io::AsyncWriteExt;
                f.flush().await.map_err(failed)?;
                Ok(Value::Null)
            }
            .await
        }
        "comm.upload_dir" => {
            async {
                let dest = param(params, "destination")?;
                let src = param(params, "source")?;
                comm.upload_dir(dest, Path::new(src), &strings(&params["exclude"]))
                    .await
                    .map_err(failed)?;
                Ok(Value::Null)
            }
            .await
        }
        "comm.download_dir" => {
            async {
                let src = param(params, "source")?;
                let dest = param(params, "destination")?;
                comm.download_dir(src, Path::new(dest), &strings(&params["exclude"]))
                    .await
                    .map_err(failed)?;
                Ok(Value::Null)
            }
            .await
        }
        _ => return None,
    };
    Some(r)
}

/// Whether a [`UiProxy`] sends `activity` and `progress` to the host: only
/// when the host offered [`CAP_UI_PROGRESS`] in the handshake (an older
/// host would print them as message lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressLines {
    /// The host shows them.
    Forward,
    /// The host does not know them: they are dropped.
    Drop,
}

impl ProgressLines {
    /// What a host offering `capabilities` is sent.
    pub fn for_host(capabilities: &[String]) -> Self {
        if capabilities.iter().any(|c| c == CAP_UI_PROGRESS) {
            ProgressLines::Forward
        } else {
            ProgressLines::Drop
        }
    }
}

/// The shortest time between two `progress` notifications of an unfinished
/// transfer: components report every chunk read, and one message per chunk
/// would cost more than the transfer. A transfer's first report, its last
/// (`done >= total`) and a new label are always sent.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// The UI of a plugin component: every line goes to the host as a `ui`
/// notification, scrubbed of the plugin's secrets first. Stores when it
/// last sent a `progress` notification, and for which label.
pub struct UiProxy {
    peer: Peer,
    call: u64,
    redactor: Redactor,
    progress: ProgressLines,
    last_progress: Mutex<Option<(Instant, String)>>,
}

impl UiProxy {
    /// The UI of the host's call `call` on `peer`, scrubbing `redactor`'s
    /// secrets; `progress` says whether the host shows activity and
    /// progress.
    pub fn new(peer: Peer, call: u64, redactor: Redactor, progress: ProgressLines) -> Self {
        UiProxy {
            peer,
            call,
            redactor,
            progress,
            last_progress: Mutex::new(None),
        }
    }

    fn send(&self, params: Value) {
        self.peer.notify("ui", params, Some(self.call));
    }

    fn line(&self, kind: &str, message: &str) {
        self.send(json!({ "kind": kind, "message": self.redactor.redact(message) }));
    }

    /// Whether a `progress` report of `label` is sent now (see
    /// [`PROGRESS_INTERVAL`]), noting it when it is.
    fn progress_due(&self, label: &str, finished: bool) -> bool {
        let mut last = self.last_progress.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let due = match &*last {
            None => true,
            Some((at, l)) => l != label || now.duration_since(*at) >= PROGRESS_INTERVAL,
        };
        if finished {
            *last = None;
        } else if due {
            *last = Some((now, label.to_string()));
        }
        finished || due
    }
}

#[async_trait]
impl Ui for UiProxy {
    fn say(&self, message: &str) {
        self.line("say", message)
    }
    fn message(&self, message: &str) {
        self.line("message", message)
    }
    fn error(&self, message: &str) {
        self.line("error", message)
    }
    fn machine(&self, kind: &str, args: &[&str]) {
        let args: Vec<String> = args
            .iter()
            .map(|a| self.redactor.redact(a).into_owned())
            .collect();
        self.send(json!({ "kind": "machine", "message": kind, "args": args }));
    }
    fn step_started(&self, step: &str) {
        self.line("step", step)
    }
    fn activity(&self, what: Option<&str>) {
        if self.progress == ProgressLines::Drop {
            return;
        }
        // The host's live view drops the bar with the activity.
        *self.last_progress.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let what = what.map(|w| self.redactor.redact(w).into_owned());
        self.send(json!({ "kind": "activity", "message": what }));
    }
    fn progress(&self, label: &str, done: u64, total: u64) {
        if self.progress == ProgressLines::Drop
            || !self.progress_due(label, total > 0 && done >= total)
        {
            return;
        }
        self.send(json!({
            "kind": "progress",
            "label": self.redactor.redact(label),
            "done": done,
            "total": total,
        }));
    }
    async fn ask(&self, question: &str) -> Result<String, UiError> {
        let r = self
            .peer
            .call(
                "ui.ask",
                json!({ "question": question }),
                Some(self.call),
                &NoCallbacks,
                None,
            )
            .await
            .map_err(|_| UiError::NotInteractive(question.to_string()))?;
        Ok(r["answer"].as_str().unwrap_or_default().to_string())
    }
}

/// What one side serves during a call of its own: the call's UI (`ui`
/// lines and `ui.ask`) and, where it has them, the template's provisioners
/// (`hook.run`: the host, during a builder's `run`) and a communicator
/// (`comm.*`: the host during a provisioner's `provision`, a plugin
/// builder during its `hook.run`). Anything else fails with
/// `unknown-method`.
pub(crate) struct Services<'a> {
    /// Shows `ui` lines and answers `ui.ask`.
    pub ui: &'a dyn Ui,
    /// Runs `hook.run`, with the call's cancellation.
    pub hook: Option<(&'a dyn Hook, &'a CancellationToken)>,
    /// Serves `comm.*`.
    pub comm: Option<&'a dyn Communicator>,
}

impl<'a> Services<'a> {
    /// Only the UI.
    pub fn ui(ui: &'a dyn Ui) -> Self {
        Services {
            ui,
            hook: None,
            comm: None,
        }
    }
}

#[async_trait]
impl Callbacks for Services<'_> {
    fn notify(&self, method: &str, params: Value) {
        if method == "ui" {
            show_ui(self.ui, &params)
        }
    }
    async fn request(
        &self,
        peer: &Peer,
        id: u64,
        method: &str,
        params: Value,
    ) -> Result<Value, WireError> {
        match (method, self.hook, self.comm) {
            ("ui.ask", _, _) => serve_ask(self.ui, &params).await,
            ("hook.run", Some((hook, cancel)), _) => {
                run_hook(hook, self.ui, cancel, peer, id, &params).await
            }
            (_, _, Some(comm)) => {
                match serve_comm(comm, self.ui, peer, id, method, &params).await {
                    Some(r) => r,
                    None => NoCallbacks.request(peer, id, method, params).await,
                }
            }
            _ => NoCallbacks.request(peer, id, method, params).await,
        }
    }
}

/// Serves a plugin builder's `hook.run` request `id`: runs the template's
/// provisioners, over the builder's communicator when it serves one.
async fn run_hook(
    hook: &dyn Hook,
    ui: &dyn Ui,
    cancel: &CancellationToken,
    peer: &Peer,
    id: u64,
    params: &Value,
) -> Result<Value, WireError> {
    let event = match params["event"].as_str() {
        Some("cleanup-provision") => HookEvent::CleanupProvision,
        _ => HookEvent::Provision,
    };
    let generated: GeneratedData = Arc::new(string_map(&params["generated"]));
    let proxy;
    let comm: &dyn Communicator = if params["communicator"].as_bool().unwrap_or(false) {
        proxy = CommProxy {
            peer: peer.clone(),
            call: Some(id),
        };
        &proxy
    } else {
        &NoCommunicator
    };
    match hook.run(event, ui, comm, &generated, cancel).await {
        Ok(()) => Ok(Value::Null),
        Err(BuildError::Cancelled) => Err(WireError::new("cancelled", "build was cancelled")),
        Err(e) => Err(WireError::new("failed", e.to_string())),
    }
}

/// A JSON object as a string map (the wire's generated data and user
/// variables): strings as they are, other values as JSON text; anything
/// but an object is the empty map.
pub(crate) fn string_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object().map(object_strings).unwrap_or_default()
}

/// [`string_map`] of an object.
pub(crate) fn object_strings(o: &Map<String, Value>) -> BTreeMap<String, String> {
    o.iter()
        .map(|(k, v)| {
            let text = v.as_str().map(String::from);
            (k.clone(), text.unwrap_or_else(|| v.to_string()))
        })
        .collect()
}

/// Shows a `ui` notification on the host's UI. A kind this kiln does not
/// know (one a later capability adds, which a plugin should not have sent
/// it) is ignored rather than shown as a message line.
pub fn show_ui(ui: &dyn Ui, params: &Value) {
    let message = params["message"].as_str().unwrap_or_default();
    match params["kind"].as_str() {
        Some("say") => ui.say(message),
        Some("error") => ui.error(message),
        Some("step") => ui.step_started(message),
        Some("machine") => {
            let args = strings(&params["args"]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ui.machine(message, &args)
        }
        Some("activity") => ui.activity(params["message"].as_str()),
        Some("progress") => ui.progress(
            params["label"].as_str().unwrap_or_default(),
            params["done"].as_u64().unwrap_or(0),
            params["total"].as_u64().unwrap_or(0),
        ),
        Some("message") | None => ui.message(message),
        Some(_) => {}
    }
}

/// Answers a `ui.ask` request with the host's UI.
pub async fn serve_ask(ui: &dyn Ui, params: &Value) -> Result<Value, WireError> {
    let q = params["question"].as_str().unwrap_or_default();
    ui.ask(q)
        .await
        .map(|a| json!({ "answer": a }))
        .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_test::live_ui::{Live, LiveRecordingUi};

    /// A writer whose bytes a test reads back.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Written {
        /// The params of every message written.
        fn params(&self) -> Vec<Value> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(|l| {
                    let m: Value = serde_json::from_str(l).unwrap();
                    assert_eq!(m["method"], "ui", "{m}");
                    assert_eq!(m["call"], 7, "{m}");
                    m["params"].clone()
                })
                .collect()
        }
    }

    /// A UI proxy for call 7 whose messages land in the returned buffer;
    /// `s3cr3t-token` is one of the plugin's secrets.
    fn proxy(progress: ProgressLines) -> (UiProxy, Written) {
        let out = Written::default();
        let (peer, _incoming) = Peer::start(
            "test",
            Box::new(std::io::empty()),
            Box::new(out.clone()),
            Box::new(|| "closed".into()),
        )
        .unwrap();
        let redactor = Redactor::new();
        redactor.add("s3cr3t-token");
        (UiProxy::new(peer, 7, redactor, progress), out)
    }

    /// Keeps what is uploaded to it; nothing else is needed here.
    #[derive(Default)]
    struct Sink(Mutex<Vec<u8>>);

    #[async_trait]
    impl Communicator for Sink {
        async fn start(
            &self,
            c: &RemoteCommand,
            _: CommandOutput<'_>,
        ) -> Result<ExitStatus, CommunicatorError> {
            Err(CommunicatorError::Failed(format!(
                "unexpected `{}`",
                c.command
            )))
        }
        async fn upload(
            &self,
            _: &str,
            source: &mut (dyn AsyncRead + Send + Unpin),
            _: FileMeta,
        ) -> Result<(), CommunicatorError> {
            let mut got = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(source, &mut got)
                .await
                .map_err(|e| CommunicatorError::Failed(e.to_string()))?;
            *self.0.lock().unwrap() = got;
            Ok(())
        }
        async fn upload_dir(
            &self,
            d: &str,
            _: &Path,
            _: &[String],
        ) -> Result<(), CommunicatorError> {
            Err(CommunicatorError::Failed(format!(
                "unexpected upload to `{d}`"
            )))
        }
        async fn download(
            &self,
            s: &str,
            _: &mut (dyn AsyncWrite + Send + Unpin),
        ) -> Result<(), CommunicatorError> {
            Err(CommunicatorError::Failed(format!(
                "unexpected download of `{s}`"
            )))
        }
        async fn download_dir(
            &self,
            s: &str,
            _: &Path,
            _: &[String],
        ) -> Result<(), CommunicatorError> {
            Err(CommunicatorError::Failed(format!(
                "unexpected download of `{s}`"
            )))
        }
    }

    #[tokio::test]
    async fn a_plugins_upload_through_the_host_shows_its_progress() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("payload.bin");
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&src, &content).unwrap();
        let (peer, _incoming) = Peer::start(
            "test",
            Box::new(std::io::empty()),
            Box::new(Written::default()),
            Box::new(|| "closed".into()),
        )
        .unwrap();
        let (comm, ui) = (Sink::default(), LiveRecordingUi::default());
        let params = json!({ "destination": "/tmp/payload.bin", "source_file": src });
        let r = serve_comm(&comm, &ui, &peer, 3, "comm.upload", &params).await;
        assert_eq!(r.unwrap().unwrap(), Value::Null);
        assert_eq!(*comm.0.lock().unwrap(), content);
        let bars: Vec<(u64, u64)> = ui
            .live()
            .into_iter()
            .filter_map(|l| match l {
                Live::Progress { label, done, total } if label == "upload" => Some((done, total)),
                _ => None,
            })
            .collect();
        assert!(bars.len() > 1, "{bars:?}");
        assert!(bars.iter().all(|&(_, t)| t == 300_000), "{bars:?}");
        assert!(bars.windows(2).all(|w| w[0].0 < w[1].0), "{bars:?}");
        assert_eq!(bars.last(), Some(&(300_000, 300_000)));
    }

    #[test]
    fn activity_and_progress_go_only_to_a_host_that_offered_them() {
        assert_eq!(
            ProgressLines::for_host(&["ui".into(), CAP_UI_PROGRESS.into()]),
            ProgressLines::Forward
        );
        assert_eq!(
            ProgressLines::for_host(&["ui".into(), "ui.ask".into()]),
            ProgressLines::Drop
        );
        let (ui, out) = proxy(ProgressLines::Drop);
        ui.activity(Some("sha256 1/1"));
        ui.progress("sha256", 1, 2);
        ui.progress("sha256", 2, 2);
        ui.say("done");
        assert_eq!(out.params(), [json!({ "kind": "say", "message": "done" })]);

        let (ui, out) = proxy(ProgressLines::Forward);
        ui.activity(Some("upload of s3cr3t-token 1/1"));
        ui.progress("s3cr3t-token", 0, 10);
        ui.activity(None);
        assert_eq!(
            out.params(),
            [
                json!({ "kind": "activity", "message": "upload of <sensitive> 1/1" }),
                json!({ "kind": "progress", "label": "<sensitive>", "done": 0, "total": 10 }),
                json!({ "kind": "activity", "message": null }),
            ]
        );
    }

    #[test]
    fn progress_is_thinned_but_starts_ends_and_new_labels_always_go() {
        let (ui, out) = proxy(ProgressLines::Forward);
        // Far quicker than PROGRESS_INTERVAL: the first report, a new
        // label and the finished transfer are sent, the rest of the
        // chunks are not.
        for done in 0..=1000 {
            ui.progress("a", done, 1000);
        }
        ui.progress("b", 5, 0);
        ui.progress("b", 6, 0);
        let sent: Vec<(String, u64)> = out
            .params()
            .iter()
            .map(|p| {
                (
                    p["label"].as_str().unwrap().to_string(),
                    p["done"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(sent.first(), Some(&("a".to_string(), 0)), "{sent:?}");
        assert!(sent.contains(&("a".to_string(), 1000)), "{sent:?}");
        assert!(sent.contains(&("b".to_string(), 5)), "{sent:?}");
        assert!(sent.len() < 100, "{} of 1003 reports were sent", sent.len());
        // A report after the interval goes.
        std::thread::sleep(PROGRESS_INTERVAL);
        ui.progress("b", 7, 0);
        assert_eq!(out.params().last().unwrap()["done"], 7);
    }

    #[test]
    fn the_host_shows_every_kind_and_ignores_kinds_it_does_not_know() {
        let ui = LiveRecordingUi::default();
        for params in [
            json!({ "kind": "say", "message": "s" }),
            json!({ "kind": "message", "message": "m" }),
            json!({ "message": "no kind" }),
            json!({ "kind": "error", "message": "e" }),
            json!({ "kind": "step", "message": "StepX" }),
            json!({ "kind": "machine", "message": "artifact", "args": ["0", "id"] }),
            json!({ "kind": "activity", "message": "sha256 2/3" }),
            json!({ "kind": "progress", "label": "upload", "done": 5, "total": 9 }),
            json!({ "kind": "activity", "message": null }),
            json!({ "kind": "hologram", "message": "from a later kiln" }),
        ] {
            show_ui(&ui, &params);
        }
        assert_eq!(
            ui.lines(),
            [
                "say: s",
                "message: m",
                "message: no kind",
                "error: e",
                "step: StepX",
                "machine: artifact,0,id",
            ]
        );
        assert_eq!(
            ui.live(),
            [
                Live::Activity(Some("sha256 2/3".into())),
                Live::Progress {
                    label: "upload".into(),
                    done: 5,
                    total: 9
                },
                Live::Activity(None),
            ]
        );
    }
}
