//! What kiln serves to a plugin during a call, and the plugin's objects as
//! kiln traits:
//! - the `Ui` service (to kiln's [`Ui`], progress trackers included:
//!   [`UiServer`]),
//! - the `Communicator` service (to kiln's [`Communicator`]), for Go
//!   provisioners,
//! - the `Artifact` service (to a kiln [`Artifact`]), for Go
//!   post-processors,
//! - [`RemoteCommunicator`] and [`RemoteArtifact`]: a Go builder's
//!   communicator and a Go component's artifact behind kiln's traits.
//!
//! Stores: the open progress trackers of a call's `Ui` service; the remote
//! objects keep their RPC stream (and the plugin connection) open;
//! dropping them closes the stream.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::artifact::ArtifactError;
use kiln_sdk::communicator::{
    CommandOutput, CommunicatorError, ExitStatus, FileMeta, RemoteCommand,
};
use kiln_sdk::{Artifact, Communicator, Ui};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::broker::Broker;
use crate::gob;
use crate::msgpack::{self, Value};
use crate::plugin::PluginConn;
use crate::rpc::RpcClient;

/// How long kiln waits for the plugin to open a stream it announced.
const STREAM_TIMEOUT: Duration = Duration::from_secs(30);

fn basic_error(message: impl Into<String>) -> Value {
    Value::map([("Message", Value::str(message))])
}

/// Reads Go's `error` / `*BasicError` reply: nil, or a map with `Message`.
pub fn error_message(v: &Value) -> Option<String> {
    match v {
        Value::Nil => None,
        Value::Map(m) if m.is_empty() => None,
        other => Some(
            other
                .get("Message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}", other.to_json())),
        ),
    }
}

/// kiln's side of a call's `Ui` service: Packer's `Ui` RPC methods
/// (`Say`, `Message`, `Error`, `Machine`, `Ask`) on kiln's [`Ui`], and the
/// progress trackers of `Ui.TrackProgress` (Packer's `rpc/ui_progress_tracking.go`):
/// `Ui.NewTrackProgress` (`Src`, `TotalSize`, `CurrentSize`) opens one and
/// answers its id; the plugin then calls `Ui<ID>.Add` with the bytes of
/// each read and `Ui<ID>.Close`. Each is shown as [`Ui::progress`]
/// labelled with `Src` (the file's name, for the file provisioner).
/// Stores the open trackers; one per call served.
pub struct UiServer<'a> {
    ui: &'a dyn Ui,
    trackers: Mutex<Trackers>,
}

/// The open progress trackers, by id, and the number of the next.
#[derive(Default)]
struct Trackers {
    opened: u64,
    open: HashMap<String, Tracker>,
}

/// One transfer a plugin tracks.
struct Tracker {
    label: String,
    done: u64,
    total: u64,
}

impl<'a> UiServer<'a> {
    /// Serves `ui`.
    pub fn new(ui: &'a dyn Ui) -> Self {
        UiServer {
            ui,
            trackers: Mutex::default(),
        }
    }

    fn trackers(&self) -> std::sync::MutexGuard<'_, Trackers> {
        self.trackers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves a `Ui.*` (or tracker `Ui<ID>.*`) call. `None` when `method`
    /// is not one.
    pub async fn call(&self, method: &str, body: &Value) -> Option<Result<Value, String>> {
        let (service, name) = method.split_once('.')?;
        let tracker = service.strip_prefix("Ui")?;
        let ui = self.ui;
        let text = || {
            body.as_str()
                .unwrap_or("")
                .trim_end_matches('\n')
                .to_string()
        };
        Some(match (tracker, name) {
            ("", "Say") => {
                ui.say(&text());
                Ok(Value::Nil)
            }
            ("", "Message") => {
                ui.message(&text());
                Ok(Value::Nil)
            }
            ("", "Error") => {
                ui.error(&text());
                Ok(Value::Nil)
            }
            ("", "Machine") => {
                let category = body.get("Category").and_then(Value::as_str).unwrap_or("");
                let args = body.get("Args").map(Value::strings).unwrap_or_default();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                ui.machine(category, &args);
                Ok(Value::Nil)
            }
            ("", "Ask") => ui
                .ask(&text())
                .await
                .map(Value::Str)
                .map_err(|e| e.to_string()),
            ("", "NewTrackProgress") => Ok(Value::Str(self.open(body))),
            (id, "Add") => {
                self.add(id, body.as_u64().unwrap_or(0));
                Ok(Value::Nil)
            }
            (id, "Close") => {
                self.close(id);
                Ok(Value::Nil)
            }
            _ => Err(format!("rpc: can't find method {method}")),
        })
    }

    /// Opens a tracker for `Ui.NewTrackProgress`'s parameters; returns its
    /// id (no `.`, so that `Ui<ID>.Add` splits as Go's net/rpc splits it).
    fn open(&self, body: &Value) -> String {
        let size = |key: &str| {
            body.get(key)
                .and_then(Value::as_i64)
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0)
        };
        let mut t = self.trackers();
        t.opened += 1;
        let id = format!("Progress{}", t.opened);
        t.open.insert(
            id.clone(),
            Tracker {
                label: body.get("Src").and_then(Value::as_str).unwrap_or("").into(),
                done: size("CurrentSize"),
                total: size("TotalSize"),
            },
        );
        id
    }

    /// `n` more bytes read through tracker `id`. A read of nothing (the
    /// end of the file) shows nothing, so an empty file draws no bar.
    fn add(&self, id: &str, n: u64) {
        let (label, done, total) = {
            let mut t = self.trackers();
            let Some(tr) = t.open.get_mut(id) else { return };
            if n == 0 {
                return;
            }
            tr.done += n;
            (tr.label.clone(), tr.done, tr.total)
        };
        self.ui.progress(&label, done, total);
    }

    /// Tracker `id`'s transfer ended: its bar goes, even short of its
    /// total (a failed upload) or with no total known.
    fn close(&self, id: &str) {
        let Some(tr) = self.trackers().open.remove(id) else {
            return;
        };
        if tr.done > 0 && (tr.total == 0 || tr.done < tr.total) {
            self.ui.progress(&tr.label, tr.done, tr.done);
        }
    }
}

/// Work a served call leaves running after its reply: a started command,
/// whose output and exit status go on over broker streams. `Err` is shown
/// to the user (the plugin only sees the command fail).
pub type DeferredWork<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Where a served call hands its [`DeferredWork`]; the serving side runs
/// it alongside the RPC server (see `components::GoProvisioner`).
pub type Deferred<'a> = tokio::sync::mpsc::UnboundedSender<DeferredWork<'a>>;

/// Serves a `Communicator.*` call against kiln's communicator. `None` when
/// `method` is not a Communicator method. `Start` replies as soon as the
/// command's streams are open and leaves the command to `deferred`.
pub async fn communicator_call<'a>(
    comm: &'a dyn Communicator,
    broker: &'a Broker,
    deferred: &Deferred<'a>,
    method: &str,
    body: &Value,
) -> Option<Result<Value, String>> {
    let name = method.strip_prefix("Communicator.")?;
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let id = |k: &str| body.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
    Some(match name {
        "Start" => serve_start(comm, broker, deferred, body).await,
        "Upload" => {
            let stream = match broker.dial(id("ReaderStreamId")).await {
                Ok(s) => s,
                Err(e) => return Some(Err(format!("cannot open the upload stream: {e}"))),
            };
            let mut meta = FileMeta::default();
            if let Some(fi) = body.get("FileInfo").filter(|v| !v.is_nil()) {
                meta.mode = fi
                    .get("M")
                    .and_then(Value::as_u64)
                    .map(|m| m as u32 & 0o7777);
                meta.size = fi.get("S").and_then(Value::as_u64);
                meta.mtime = fi.get("T").and_then(msgpack::parse_time);
            }
            let mut reader = stream.reader;
            let r = comm.upload(&s("Path"), &mut reader, meta).await;
            stream.writer.close();
            r.map(|()| Value::Nil).map_err(|e| e.to_string())
        }
        "UploadDir" => {
            let exclude = body.get("Exclude").map(Value::strings).unwrap_or_default();
            Ok(
                match comm
                    .upload_dir(&s("Dst"), Path::new(&s("Src")), &exclude)
                    .await
                {
                    Ok(()) => Value::Nil,
                    Err(e) => basic_error(e.to_string()),
                },
            )
        }
        "Download" => {
            let stream = match broker.dial(id("WriterStreamId")).await {
                Ok(s) => s,
                Err(e) => return Some(Err(format!("cannot open the download stream: {e}"))),
            };
            let (mut w, mut r) = tokio::io::duplex(64 * 1024);
            let writer = stream.writer.clone();
            let download = async {
                let res = comm.download(&s("Path"), &mut w).await;
                let _ = w.shutdown().await;
                drop(w);
                res
            };
            let forward = async {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match r.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if writer.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            };
            let (res, ()) = tokio::join!(download, forward);
            stream.writer.close();
            res.map(|()| Value::Nil).map_err(|e| e.to_string())
        }
        "DownloadDir" => {
            let exclude = body.get("Exclude").map(Value::strings).unwrap_or_default();
            Ok(
                match comm
                    .download_dir(&s("Src"), Path::new(&s("Dst")), &exclude)
                    .await
                {
                    Ok(()) => Value::Nil,
                    Err(e) => basic_error(e.to_string()),
                },
            )
        }
        _ => Err(format!("rpc: can't find method {method}")),
    })
}

/// `Communicator.Start`, callee side: dial the caller's streams and reply;
/// the command then runs as deferred work that streams its output, closes
/// the output streams and writes gob `CommandFinished` to the response
/// stream, as Go's `CommunicatorServer.Start` does. The reply must not
/// wait for the command: Packer's `RemoteCmd.RunWithUi` starts reading the
/// output only once `Start` has returned, so output beyond the stream
/// window (256 KiB) would never drain and the command never finish.
async fn serve_start<'a>(
    comm: &'a dyn Communicator,
    broker: &Broker,
    deferred: &Deferred<'a>,
    body: &Value,
) -> Result<Value, String> {
    let id = |k: &str| body.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
    let command = body
        .get("Command")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let dial = |k: &'static str| {
        let sid = id(k);
        async move {
            if sid == 0 {
                return Ok(None);
            }
            broker
                .dial(sid)
                .await
                .map(Some)
                .map_err(|e| format!("cannot open the {k} stream: {e}"))
        }
    };
    crate::trace!("served Communicator.Start `{command}`: dialing its streams");
    let stdin = dial("StdinStreamId").await?;
    let stdout = dial("StdoutStreamId").await?;
    let stderr = dial("StderrStreamId").await?;
    let response = dial("ResponseStreamId").await?;
    if let Some(s) = &stdin {
        // kiln's communicators take no stdin: the command sees EOF.
        s.writer.close();
    }
    let finish = async move {
        let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<(bool, String)>();
        let err_tx = out_tx.clone();
        let on_out = move |l: &str| {
            let _ = out_tx.send((true, format!("{l}\n")));
        };
        let on_err = move |l: &str| {
            let _ = err_tx.send((false, format!("{l}\n")));
        };
        let run = async move {
            let r = comm
                .start(
                    &RemoteCommand { command },
                    CommandOutput {
                        stdout: &on_out,
                        stderr: &on_err,
                    },
                )
                .await;
            // Dropping the senders ends `forward` once the queue is drained.
            drop(on_out);
            drop(on_err);
            r
        };
        let forward = async {
            while let Some((is_out, line)) = out_rx.recv().await {
                let target = if is_out { &stdout } else { &stderr };
                if let Some(s) = target {
                    let _ = s.writer.write_all(line.as_bytes()).await;
                }
            }
        };
        crate::trace!("served Communicator.Start: streams open, running");
        let (result, ()) = tokio::join!(run, forward);
        crate::trace!("served Communicator.Start: command ended: {result:?}");
        for s in [&stdout, &stderr].into_iter().flatten() {
            s.writer.close();
        }
        let status = match &result {
            Ok(s) => s.code() as i64,
            Err(_) => 1,
        };
        if let Some(r) = &response {
            if result.is_ok() {
                let _ = r.writer.write_all(&gob::command_finished(status)).await;
            }
            r.writer.close();
        }
        crate::trace!("served Communicator.Start: CommandFinished written");
        result.map(|_| ()).map_err(|e| e.to_string())
    };
    deferred
        .send(Box::pin(finish))
        .map_err(|_| "the provisioner's call has ended".to_string())?;
    crate::trace!("served Communicator.Start: replying (started)");
    Ok(Value::Nil)
}

/// Serves an `Artifact.*` call for a kiln artifact.
pub async fn artifact_call(
    artifact: &dyn Artifact,
    method: &str,
    body: &Value,
) -> Option<Result<Value, String>> {
    let name = method.strip_prefix("Artifact.")?;
    Some(match name {
        "BuilderId" => Ok(Value::str(artifact.builder_id())),
        "Id" => Ok(Value::Str(artifact.id())),
        "String" => Ok(Value::Str(artifact.describe())),
        "Files" => Ok(Value::Array(
            artifact
                .files()
                .iter()
                .map(|f| Value::Str(f.display().to_string()))
                .collect(),
        )),
        "State" => Ok(artifact
            .state(body.as_str().unwrap_or(""))
            .map(|j| Value::from_json(&j))
            .unwrap_or(Value::Nil)),
        "Destroy" => Ok(match artifact.destroy().await {
            Ok(()) => Value::Nil,
            Err(e) => basic_error(e.to_string()),
        }),
        _ => Err(format!("rpc: can't find method {method}")),
    })
}

/// A Go builder's communicator (served by the plugin during `Hook.Run`)
/// behind kiln's [`Communicator`] trait.
pub struct RemoteCommunicator {
    /// The RPC client on the plugin's Communicator stream.
    pub client: RpcClient,
    /// The plugin's broker.
    pub broker: Arc<Broker>,
}

impl RemoteCommunicator {
    async fn call(&self, method: &str, arg: Value) -> Result<Value, CommunicatorError> {
        self.client
            .call(method, arg)
            .await
            .map_err(|e| CommunicatorError::Failed(e.to_string()))
    }

    async fn accept(&self, id: u32) -> Result<crate::yamux::Stream, CommunicatorError> {
        self.broker
            .accept(id, STREAM_TIMEOUT)
            .await
            .map_err(|e| CommunicatorError::Failed(e.to_string()))
    }
}

/// Runs `call` and `io` together; if the call fails first, `io` is dropped.
async fn with_call<T>(
    call: impl std::future::Future<Output = Result<Value, CommunicatorError>>,
    io: impl std::future::Future<Output = T>,
) -> Result<(Value, T), CommunicatorError> {
    tokio::pin!(call);
    tokio::pin!(io);
    tokio::select! {
        c = &mut call => { let c = c?; let t = io.await; Ok((c, t)) }
        t = &mut io => { let c = call.await?; Ok((c, t)) }
    }
}

async fn lines(reader: &mut crate::yamux::StreamReader, each: &(dyn Fn(&str) + Send + Sync)) {
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = reader.chunk().await {
        pending.extend_from_slice(&chunk);
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            each(text.trim_end_matches('\r'));
        }
    }
    if !pending.is_empty() {
        each(String::from_utf8_lossy(&pending).trim_end_matches('\r'));
    }
}

#[async_trait]
impl Communicator for RemoteCommunicator {
    async fn start(
        &self,
        command: &RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        let (out_id, err_id, resp_id) = (
            self.broker.next_id(),
            self.broker.next_id(),
            self.broker.next_id(),
        );
        let args = Value::map([
            ("Command", Value::str(&command.command)),
            ("StdinStreamId", Value::UInt(0)),
            ("StdoutStreamId", Value::UInt(out_id as u64)),
            ("StderrStreamId", Value::UInt(err_id as u64)),
            ("ResponseStreamId", Value::UInt(resp_id as u64)),
        ]);
        let io = async {
            let out = async {
                if let Ok(mut s) = self.accept(out_id).await {
                    lines(&mut s.reader, output.stdout).await;
                }
            };
            let err = async {
                if let Ok(mut s) = self.accept(err_id).await {
                    lines(&mut s.reader, output.stderr).await;
                }
            };
            let resp = async {
                let mut s = self.accept(resp_id).await?;
                Ok::<_, CommunicatorError>(s.reader.read_all().await)
            };
            let ((), (), resp) = tokio::join!(out, err, resp);
            crate::trace!("remote Communicator.Start: output and response streams ended");
            resp
        };
        crate::trace!("remote Communicator.Start `{}`", command.command);
        let (_, resp) = with_call(self.call("Communicator.Start", args), io).await?;
        let bytes = resp?;
        match gob::parse_command_finished(&bytes) {
            Some(c) if c == ExitStatus::DISCONNECT_CODE as i64 => Ok(ExitStatus::Disconnected),
            Some(c) => Ok(ExitStatus::Code(c as i32)),
            None => Err(CommunicatorError::Failed(format!(
                "the plugin's communicator did not report how `{}` exited",
                command.command
            ))),
        }
    }

    async fn upload(
        &self,
        destination: &str,
        source: &mut (dyn AsyncRead + Send + Unpin),
        meta: FileMeta,
    ) -> Result<(), CommunicatorError> {
        let id = self.broker.next_id();
        let file_info = match meta.size {
            Some(size) => {
                let mut fi = vec![
                    (
                        "N",
                        Value::str(
                            Path::new(destination)
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default(),
                        ),
                    ),
                    ("S", Value::UInt(size)),
                    ("M", Value::UInt(meta.mode.unwrap_or(0o644) as u64)),
                ];
                if let Some(t) = meta.mtime {
                    fi.push(("T", msgpack::timestamp(t)));
                }
                Value::map(fi)
            }
            None => Value::Nil,
        };
        let args = Value::map([
            ("Path", Value::str(destination)),
            ("ReaderStreamId", Value::UInt(id as u64)),
            ("FileInfo", file_info),
        ]);
        let io = async {
            let s = self.accept(id).await?;
            s.writer
                .copy_from(source)
                .await
                .map_err(|e| CommunicatorError::Failed(format!("upload to `{destination}`: {e}")))
        };
        let (_, copied) = with_call(self.call("Communicator.Upload", args), io).await?;
        copied.map(|_| ())
    }

    async fn upload_dir(
        &self,
        destination: &str,
        source: &Path,
        exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        let args = Value::map([
            ("Dst", Value::str(destination)),
            ("Src", Value::str(source.display().to_string())),
            (
                "Exclude",
                Value::Array(exclude.iter().map(Value::str).collect()),
            ),
        ]);
        let reply = self.call("Communicator.UploadDir", args).await?;
        match error_message(&reply) {
            None => Ok(()),
            Some(m) => Err(CommunicatorError::Failed(m)),
        }
    }

    async fn download(
        &self,
        source: &str,
        destination: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        let id = self.broker.next_id();
        let args = Value::map([
            ("Path", Value::str(source)),
            ("WriterStreamId", Value::UInt(id as u64)),
        ]);
        let io = async {
            let mut s = self.accept(id).await?;
            while let Some(c) = s.reader.chunk().await {
                destination.write_all(&c).await.map_err(|e| {
                    CommunicatorError::Failed(format!("download of `{source}`: {e}"))
                })?;
            }
            destination
                .flush()
                .await
                .map_err(|e| CommunicatorError::Failed(format!("download of `{source}`: {e}")))
        };
        let (_, r) = with_call(self.call("Communicator.Download", args), io).await?;
        r
    }

    async fn download_dir(
        &self,
        source: &str,
        destination: &Path,
        exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        let args = Value::map([
            ("Dst", Value::str(destination.display().to_string())),
            ("Src", Value::str(source)),
            (
                "Exclude",
                Value::Array(exclude.iter().map(Value::str).collect()),
            ),
        ]);
        let reply = self.call("Communicator.DownloadDir", args).await?;
        match error_message(&reply) {
            None => Ok(()),
            Some(m) => Err(CommunicatorError::Failed(m)),
        }
    }
}

/// An artifact served by a Go builder or post-processor. Its descriptive
/// fields are read once when it arrives (kiln's trait is synchronous);
/// `destroy` calls the plugin, which stays alive as long as the artifact.
pub struct RemoteArtifact {
    builder_id: String,
    id: String,
    description: String,
    files: Vec<PathBuf>,
    generated_data: Option<serde_json::Value>,
    client: RpcClient,
    _conn: Arc<PluginConn>,
}

impl std::fmt::Debug for RemoteArtifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteArtifact")
            .field("builder_id", &self.builder_id)
            .field("id", &self.id)
            .field("files", &self.files)
            .finish()
    }
}

impl RemoteArtifact {
    /// Dials the artifact's stream and reads its fields.
    pub async fn fetch(conn: Arc<PluginConn>, stream_id: u32) -> Result<RemoteArtifact, String> {
        let stream = conn
            .broker
            .dial(stream_id)
            .await
            .map_err(|e| format!("cannot open the artifact stream: {e}"))?;
        let client = RpcClient::new(stream);
        let text = |v: Value| v.as_str().unwrap_or("").to_string();
        let get = |m: &'static str, arg: Value| {
            let c = &client;
            async move { c.call(m, arg).await.map_err(|e| format!("`{m}`: {e}")) }
        };
        let builder_id = text(get("Artifact.BuilderId", Value::Nil).await?);
        let id = text(get("Artifact.Id", Value::Nil).await?);
        let description = text(get("Artifact.String", Value::Nil).await?);
        let files = get("Artifact.Files", Value::Nil)
            .await?
            .strings()
            .into_iter()
            .map(PathBuf::from)
            .collect();
        let generated_data = get("Artifact.State", Value::str("generated_data"))
            .await
            .ok()
            .filter(|v| !v.is_nil())
            .map(|v| v.to_json());
        Ok(RemoteArtifact {
            builder_id,
            id,
            description,
            files,
            generated_data,
            client,
            _conn: conn,
        })
    }
}

#[async_trait]
impl Artifact for RemoteArtifact {
    fn builder_id(&self) -> &str {
        &self.builder_id
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn files(&self) -> Vec<PathBuf> {
        self.files.clone()
    }
    fn describe(&self) -> String {
        self.description.clone()
    }
    fn state(&self, key: &str) -> Option<serde_json::Value> {
        (key == "generated_data")
            .then(|| self.generated_data.clone())
            .flatten()
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        let err = |message: String| ArtifactError {
            id: self.id.clone(),
            message,
        };
        let reply = self
            .client
            .call("Artifact.Destroy", Value::Nil)
            .await
            .map_err(|e| err(e.to_string()))?;
        match error_message(&reply) {
            None => Ok(()),
            Some(m) => Err(err(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_test::live_ui::{Live, LiveRecordingUi};

    fn progress(label: &str, done: u64, total: u64) -> Live {
        Live::Progress {
            label: label.into(),
            done,
            total,
        }
    }

    /// Opens a tracker as Packer's `Ui.TrackProgress` does; its id.
    async fn track(s: &UiServer<'_>, src: &str, current: i64, total: i64) -> String {
        let body = Value::map([
            ("Src", Value::str(src)),
            ("TotalSize", Value::Int(total)),
            ("CurrentSize", Value::Int(current)),
        ]);
        match s.call("Ui.NewTrackProgress", &body).await {
            Some(Ok(Value::Str(id))) => id,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn trackers_become_kiln_progress() {
        let ui = LiveRecordingUi::default();
        let s = UiServer::new(&ui);
        let a = track(&s, "a.txt", 0, 10).await;
        let b = track(&s, "b.iso", 0, 0).await;
        let c = track(&s, "c.img", 4, 8).await;
        assert_ne!(a, b);
        assert!(!a.contains('.') && !b.contains('.'), "{a} {b}");
        for (id, n) in [(&a, 4), (&b, 5), (&a, 0), (&a, 6), (&c, 2)] {
            let r = s.call(&format!("Ui{id}.Add"), &Value::UInt(n)).await;
            assert!(matches!(r, Some(Ok(Value::Nil))), "{r:?}");
        }
        for id in [&a, &b, &c, &"Progress99".to_string()] {
            let r = s.call(&format!("Ui{id}.Close"), &Value::Nil).await;
            assert!(matches!(r, Some(Ok(Value::Nil))), "{r:?}");
        }
        // A closed tracker's reads show nothing.
        s.call(&format!("Ui{a}.Add"), &Value::UInt(1)).await;
        assert_eq!(
            ui.live(),
            [
                progress("a.txt", 4, 10),
                progress("b.iso", 5, 0),
                progress("a.txt", 10, 10),
                progress("c.img", 6, 8),
                // Closing ends the bars of a transfer of unknown size and
                // of one that stopped short.
                progress("b.iso", 5, 5),
                progress("c.img", 6, 6),
            ]
        );
    }

    #[tokio::test]
    async fn ui_lines_and_unknown_methods() {
        let ui = LiveRecordingUi::default();
        let s = UiServer::new(&ui);
        s.call("Ui.Say", &Value::str("hello\n")).await;
        s.call("Ui.Message", &Value::str("detail")).await;
        s.call("Ui.Error", &Value::str("bad")).await;
        let machine = Value::map([
            ("Category", Value::str("artifact")),
            (
                "Args",
                Value::Array(vec![Value::str("0"), Value::str("id")]),
            ),
        ]);
        s.call("Ui.Machine", &machine).await;
        assert_eq!(
            ui.lines(),
            [
                "say: hello",
                "message: detail",
                "error: bad",
                "machine: artifact,0,id"
            ]
        );
        assert!(matches!(
            s.call("Ui.Flash", &Value::Nil).await,
            Some(Err(_))
        ));
        assert!(s.call("Communicator.Start", &Value::Nil).await.is_none());
    }
}
