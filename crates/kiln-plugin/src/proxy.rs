//! The pieces both sides share: a [`Communicator`] that forwards every call
//! over the connection ([`CommProxy`]), the code that serves those calls
//! with a real communicator ([`serve_comm`]), and UI lines as messages
//! ([`UiProxy`], [`show_ui`]), and what a side serves during its own call
//! ([`Services`]). File contents never travel inside messages:
//! plugins run on the same machine as kiln, so uploads and downloads name
//! local (temporary) files, which keeps transfers streaming. Holds only
//! temporary files, removed when each call ends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
use crate::protocol::WireError;

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

/// Serves one `comm.*` request with `comm`. `None` when `method` is not a
/// communicator method.
pub async fn serve_comm(
    comm: &dyn Communicator,
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

/// The UI of a plugin component: every line goes to the host as a `ui`
/// notification, scrubbed of the plugin's secrets first.
pub struct UiProxy {
    /// The connection.
    pub peer: Peer,
    /// The host's call the lines belong to.
    pub call: u64,
    /// The plugin's secrets.
    pub redactor: Redactor,
}

impl UiProxy {
    fn line(&self, kind: &str, message: &str) {
        self.peer.notify(
            "ui",
            json!({ "kind": kind, "message": self.redactor.redact(message) }),
            Some(self.call),
        );
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
        self.peer.notify(
            "ui",
            json!({ "kind": "machine", "message": kind, "args": args }),
            Some(self.call),
        );
    }
    fn step_started(&self, step: &str) {
        self.line("step", step)
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
            (_, _, Some(comm)) => match serve_comm(comm, peer, id, method, &params).await {
                Some(r) => r,
                None => NoCallbacks.request(peer, id, method, params).await,
            },
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

/// Shows a `ui` notification on the host's UI.
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
        _ => ui.message(message),
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
