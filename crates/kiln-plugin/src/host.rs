//! The host side: starting a kiln plugin process, the handshake, and
//! [`PluginComponent`], the factory that makes a plugin's components look
//! like built-in ones to the engine (and, for data sources, to template
//! evaluation). Every call goes through one helper (`call`), which serves
//! the plugin's UI lines and requests for the call and turns the call's
//! cancellation into the protocol's `cancel`. Each prepared component owns
//! one plugin process (started by `prepare`, which runs the plugin's own
//! `prepare`); the process is killed when the component and every artifact
//! it made are dropped. The process gets its own process group, so Ctrl-C
//! reaches it only as the protocol's `cancel`, and the host decides when
//! it ends.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiln_sdk::artifact::ArtifactError;
use kiln_sdk::communicator::Communicator;
use kiln_sdk::component::{
    BuildContext, BuildError, DataSourceContext, KeepInput, PostProcessContext, PostProcessed,
    ProvisionContext,
};
use kiln_sdk::config::{ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::step::OnError;
use kiln_sdk::ui::{Redactor, Ui, UiError};
use kiln_sdk::{
    Artifact, Builder, DataSource, PostProcessor, PrepareContext, Prepared, Provisioner,
};
use serde::de::IgnoredAny;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::peer::{block_on, Callbacks, NoCallbacks, Peer};
use crate::protocol::{
    self, Description, ExecuteResult, HandshakeParams, HandshakeResult, Kind, PostProcessResult,
    PrepareResult, RunResult, WireArtifact, WireContext, WireError, CAP_DATA_SOURCE,
    HOST_CAPABILITIES, MAGIC_ENV, MAGIC_VALUE, PROTOCOL_MAX, PROTOCOL_MIN,
};
use crate::proxy::Services;

/// How long a plugin may take to start and answer the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A kiln plugin binary.
#[derive(Debug, Clone)]
pub struct PluginBinary {
    /// The executable.
    pub path: PathBuf,
    /// What messages call it (its file name).
    pub name: String,
}

/// Why a plugin could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The process could not be started or run.
    #[error("cannot run plugin `{name}` (`{path}`): {message}")]
    Start {
        /// The plugin.
        name: String,
        /// Its path.
        path: String,
        /// What failed.
        message: String,
    },
    /// It does not speak a protocol version kiln speaks.
    #[error("{0}")]
    Incompatible(String),
    /// It answered something that does not follow the protocol.
    #[error("plugin `{name}` does not follow the kiln plugin protocol: {message}")]
    Protocol {
        /// The plugin.
        name: String,
        /// What was wrong.
        message: String,
    },
}

impl PluginBinary {
    /// Runs `<plugin> describe` and parses its answer.
    pub fn describe(&self) -> Result<Description, PluginError> {
        let out = Command::new(&self.path)
            .arg("describe")
            .env(MAGIC_ENV, MAGIC_VALUE)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.start_error(e.to_string()))?;
        if !out.status.success() {
            return Err(self.start_error(format!(
                "`describe` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| PluginError::Protocol {
            name: self.name.clone(),
            message: format!("its `describe` output is not a description: {e}"),
        })
    }

    fn start_error(&self, message: String) -> PluginError {
        PluginError::Start {
            name: self.name.clone(),
            path: self.path.display().to_string(),
            message,
        }
    }

    /// Starts the plugin and shakes hands.
    pub fn connect(&self) -> Result<Session, PluginError> {
        let mut cmd = Command::new(&self.path);
        cmd.arg("serve")
            .env(MAGIC_ENV, MAGIC_VALUE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd.spawn().map_err(|e| self.start_error(e.to_string()))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let tail = Arc::new(Mutex::new(VecDeque::<String>::new()));
        let stderr_thread = {
            let tail = tail.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if std::env::var_os("KILN_PLUGIN_LOG").is_some() {
                        kiln_sdk::ui::diagnostic(&format!("plugin: {line}"));
                    }
                    let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
                    if t.len() == 10 {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            })
        };
        let child = Arc::new(Mutex::new(child));
        let on_close = {
            let child = child.clone();
            let name = self.name.clone();
            Box::new(move || {
                let deadline = Instant::now() + Duration::from_secs(2);
                let status = loop {
                    let s = child.lock().unwrap_or_else(|e| e.into_inner()).try_wait();
                    match s {
                        Ok(Some(s)) => break Some(s),
                        Ok(None) if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(20))
                        }
                        _ => break None,
                    }
                };
                let _ = stderr_thread.join();
                let tail: Vec<String> = tail
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .cloned()
                    .collect();
                let how = match status {
                    Some(s) => format!("plugin `{name}` exited unexpectedly ({s})"),
                    None => format!("plugin `{name}` closed its connection unexpectedly"),
                };
                if tail.is_empty() {
                    how
                } else {
                    format!("{how}; its last lines on stderr:\n  {}", tail.join("\n  "))
                }
            }) as Box<dyn FnOnce() -> String + Send>
        };
        let guard = Arc::new(ProcessGuard(child.clone()));
        let (peer, _top) = Peer::start(&self.name, Box::new(stdout), Box::new(stdin), on_close)
            .map_err(|e| self.start_error(e.to_string()))?;
        // A plugin that never answers must not hang kiln.
        let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let answered = answered.clone();
            let child = Arc::downgrade(&child);
            std::thread::spawn(move || {
                std::thread::sleep(HANDSHAKE_TIMEOUT);
                if !answered.load(std::sync::atomic::Ordering::SeqCst) {
                    if let Some(c) = child.upgrade() {
                        let _ = c.lock().unwrap_or_else(|e| e.into_inner()).kill();
                    }
                }
            });
        }
        let params = HandshakeParams {
            kiln_version: kiln_sdk::KILN_VERSION.into(),
            protocol_min: PROTOCOL_MIN,
            protocol_max: PROTOCOL_MAX,
            capabilities: HOST_CAPABILITIES.iter().map(|s| s.to_string()).collect(),
        };
        let r = block_on(call::<HandshakeResult>(
            &peer,
            "handshake",
            &params,
            &NoCallbacks,
            None,
        ));
        answered.store(true, std::sync::atomic::Ordering::SeqCst);
        let hs = r.map_err(|e| self.wire_error(e))?;
        let d = &hs.description;
        match protocol::negotiate(
            (PROTOCOL_MIN, PROTOCOL_MAX),
            (d.protocol_min, d.protocol_max),
        ) {
            Some(v) if v == hs.protocol => {}
            _ => {
                return Err(PluginError::Incompatible(protocol::incompatibility(
                    &self.name,
                    (d.protocol_min, d.protocol_max),
                )))
            }
        }
        Ok(Session {
            peer,
            name: self.name.clone(),
            protocol: hs.protocol,
            capabilities: hs.capabilities,
            _guard: guard,
        })
    }

    fn wire_error(&self, e: WireError) -> PluginError {
        match e.kind.as_str() {
            "incompatible" => PluginError::Incompatible(e.message),
            "closed" => self.start_error(e.message),
            _ => PluginError::Protocol {
                name: self.name.clone(),
                message: e.message,
            },
        }
    }
}

/// Kills the plugin process when the last user of it is gone.
struct ProcessGuard(Arc<Mutex<Child>>);

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        let mut c = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(None) = c.try_wait() {
            let _ = c.kill();
        }
        let _ = c.wait();
    }
}

/// A running plugin process that has shaken hands.
pub struct Session {
    /// The connection.
    pub peer: Peer,
    /// The plugin's name.
    pub name: String,
    /// The protocol version in use.
    pub protocol: u32,
    /// What the plugin offers.
    pub capabilities: Vec<String>,
    _guard: Arc<ProcessGuard>,
}

/// Sends `method` on `peer` and decodes its answer as `T`: the one place
/// the host's calls go through. While the call runs, `callbacks` serve
/// what the plugin sends for it (UI lines, `ui.ask`, `hook.run`, `comm.*`),
/// and `cancel` firing becomes the protocol's `cancel` notification (the
/// call then ends with the plugin's answer, normally a `cancelled` error).
/// An answer that does not decode is a `protocol` error.
async fn call<T: serde::de::DeserializeOwned>(
    peer: &Peer,
    method: &str,
    params: impl serde::Serialize,
    callbacks: &dyn Callbacks,
    cancel: Option<&CancellationToken>,
) -> Result<T, WireError> {
    let params = serde_json::to_value(params).map_err(|e| {
        WireError::new(
            "failed",
            format!("cannot encode `{method}` parameters: {e}"),
        )
    })?;
    let r = peer.call(method, params, None, callbacks, cancel).await?;
    serde_json::from_value(r).map_err(|e| {
        WireError::new(
            "protocol",
            format!("its answer to `{method}` does not follow the protocol: {e}"),
        )
    })
}

fn wire_context(cx: &PrepareContext) -> WireContext {
    WireContext {
        build_name: cx.build_name.clone(),
        builder_type: cx.builder_type.clone(),
        template_dir: cx.template_dir.display().to_string(),
        user_variables: cx
            .interpolation
            .user_variables
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
        debug: cx.debug,
        force: cx.force,
        on_error: match cx.on_error {
            OnError::Cleanup => "cleanup",
            OnError::Abort => "abort",
            OnError::Ask => "ask",
            OnError::RunCleanupProvisioner => "run-cleanup-provisioner",
        }
        .into(),
        init_time: cx.interpolation.init_time.to_rfc3339(),
    }
}

fn build_error(e: WireError) -> BuildError {
    match e.kind.as_str() {
        "cancelled" => BuildError::Cancelled,
        _ => BuildError::Failed(e.message),
    }
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// A component type served by a kiln plugin. It is the factory of every
/// kind (builder, provisioner, post-processor, data source); discovery
/// boxes it as the kind the plugin's `describe` lists it under. Preparing
/// it starts the plugin and runs the plugin's `prepare`; a data source
/// also needs the plugin to offer the `data-source` capability, and its
/// `execute` answer's `output` is the data.
pub struct PluginComponent {
    name: &'static str,
    plugin: PluginBinary,
    ui: Option<Arc<dyn Ui>>,
}

impl PluginComponent {
    /// Registers `type_name` as served by `plugin`.
    pub fn new(type_name: &str, plugin: PluginBinary) -> Self {
        PluginComponent {
            name: leak(type_name),
            plugin,
            ui: None,
        }
    }

    /// Where a data source's UI lines go while it executes (kiln-sdk's
    /// `DataSourceContext` carries no UI). Without one they are written to
    /// stderr, `==> data.TYPE: …` as Packer's human UI writes them. Either
    /// way they are scrubbed of the prepare context's secrets. Builders,
    /// provisioners and post-processors use the UI of their run instead.
    pub fn with_ui(mut self, ui: Arc<dyn Ui>) -> Self {
        self.ui = Some(ui);
        self
    }

    /// Starts the plugin, runs its `prepare` for this component as `kind`,
    /// and makes the prepared component with `make`.
    fn prepare_as<C: ?Sized>(
        &self,
        kind: Kind,
        raw: &RawConfig,
        cx: &PrepareContext,
        make: impl FnOnce(Arc<Session>) -> Box<C>,
    ) -> Result<Prepared<Box<C>>, ConfigErrors> {
        let at_block = |message: String| {
            let mut e = ConfigError::new(message);
            e.location = raw.location.clone();
            ConfigErrors::from(e)
        };
        let (name, plugin) = (self.name, &self.plugin);
        let session = plugin.connect().map_err(|e| at_block(e.to_string()))?;
        if kind == Kind::DataSource && !session.capabilities.iter().any(|c| c == CAP_DATA_SOURCE) {
            let mut e = ConfigError::new(format!(
                "data source `{name}`: plugin `{}` lists it, but does not serve data sources \
                 (its handshake does not offer the `{CAP_DATA_SOURCE}` capability of kiln plugin \
                 protocol {})",
                plugin.name, session.protocol
            ))
            .with_hint(
                "upgrade the plugin to a release that serves data sources, or remove the `data` block",
            );
            e.location = raw.location.clone();
            return Err(e.into());
        }
        let params = json!({
            "kind": kind,
            "type": name,
            "config": Value::Object(raw.values.clone()),
            "context": wire_context(cx),
        });
        match block_on(call::<PrepareResult>(
            &session.peer,
            "prepare",
            params,
            &NoCallbacks,
            None,
        )) {
            Ok(r) => Ok(Prepared {
                component: make(Arc::new(session)),
                warnings: r.warnings,
                generated: r.generated,
            }),
            Err(e) if e.kind == "config" && !e.errors.is_empty() => Err(ConfigErrors(
                e.errors
                    .into_iter()
                    .map(|c| {
                        let mut ce = match c.path {
                            Some(p) => ConfigError::at(p, c.message),
                            None => ConfigError::new(c.message),
                        };
                        ce.hint = c.hint;
                        ce
                    })
                    .collect(),
            )
            .locate(raw)),
            Err(e) => Err(at_block(format!(
                "{} `{name}` (plugin `{}`): {}",
                kind.as_str(),
                plugin.name,
                e.message
            ))),
        }
    }
}

crate::impl_factory!(PluginComponent, BuilderFactory => Builder, |self, raw, cx| {
    self.prepare_as(Kind::Builder, raw, cx, |session| {
        Box::new(PluginBuilder { session }) as Box<dyn Builder>
    })
});
crate::impl_factory!(PluginComponent, ProvisionerFactory => Provisioner, |self, raw, cx| {
    self.prepare_as(Kind::Provisioner, raw, cx, |session| {
        Box::new(PluginProvisioner { session }) as Box<dyn Provisioner>
    })
});
crate::impl_factory!(PluginComponent, PostProcessorFactory => PostProcessor, |self, raw, cx| {
    self.prepare_as(Kind::PostProcessor, raw, cx, |session| {
        Box::new(PluginPostProcessor { session }) as Box<dyn PostProcessor>
    })
});
crate::impl_factory!(PluginComponent, DataSourceFactory => DataSource, |self, raw, cx| {
    let ui = Arc::new(DataSourceUi {
        host: self.ui.clone(),
        label: format!("data.{}", self.name),
        redactor: cx.redactor.clone(),
    });
    self.prepare_as(Kind::DataSource, raw, cx, |session| {
        Box::new(PluginDataSource {
            session,
            name: self.name,
            ui,
        }) as Box<dyn DataSource>
    })
});

struct PluginBuilder {
    session: Arc<Session>,
}

#[async_trait]
impl Builder for PluginBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let callbacks = Services {
            hook: Some((cx.hook.as_ref(), &cx.cancel)),
            ..Services::ui(cx.ui.as_ref())
        };
        let params = json!({ "run_uuid": cx.run_uuid });
        let r: RunResult = call(
            &self.session.peer,
            "run",
            params,
            &callbacks,
            Some(&cx.cancel),
        )
        .await
        .map_err(build_error)?;
        Ok(artifact_from(&self.session, r.artifact))
    }
}

fn artifact_from(session: &Arc<Session>, wire: Option<WireArtifact>) -> Option<Arc<dyn Artifact>> {
    Some(Arc::new(PluginArtifact {
        wire: wire?,
        session: session.clone(),
    }))
}

/// An artifact made by a plugin component; `destroy` asks the plugin.
pub struct PluginArtifact {
    wire: WireArtifact,
    session: Arc<Session>,
}

impl std::fmt::Debug for PluginArtifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginArtifact")
            .field("plugin", &self.session.name)
            .field("artifact", &self.wire)
            .finish()
    }
}

#[async_trait]
impl Artifact for PluginArtifact {
    fn builder_id(&self) -> &str {
        &self.wire.builder_id
    }
    fn id(&self) -> String {
        self.wire.id.clone()
    }
    fn files(&self) -> Vec<PathBuf> {
        self.wire.files.iter().map(PathBuf::from).collect()
    }
    fn describe(&self) -> String {
        self.wire.description.clone()
    }
    fn state(&self, key: &str) -> Option<Value> {
        self.wire.state.get(key).cloned()
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        let peer = &self.session.peer;
        call::<IgnoredAny>(peer, "artifact.destroy", Value::Null, &NoCallbacks, None)
            .await
            .map(|_| ())
            .map_err(|e| ArtifactError {
                id: self.wire.id.clone(),
                message: e.message,
            })
    }
}

struct PluginProvisioner {
    session: Arc<Session>,
}

#[async_trait]
impl Provisioner for PluginProvisioner {
    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        communicator: &dyn Communicator,
    ) -> Result<(), BuildError> {
        let callbacks = Services {
            comm: Some(communicator),
            ..Services::ui(cx.ui)
        };
        let params = json!({ "generated": cx.generated.as_ref() });
        let peer = &self.session.peer;
        call::<IgnoredAny>(peer, "provision", params, &callbacks, Some(&cx.cancel))
            .await
            .map(|_| ())
            .map_err(build_error)
    }
}

struct PluginPostProcessor {
    session: Arc<Session>,
}

/// An artifact as the wire carries it.
pub fn artifact_to_wire(a: &dyn Artifact) -> WireArtifact {
    WireArtifact {
        builder_id: a.builder_id().to_string(),
        id: a.id(),
        files: a.files().iter().map(|f| f.display().to_string()).collect(),
        description: a.describe(),
        state: Default::default(),
    }
}

#[async_trait]
impl PostProcessor for PluginPostProcessor {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        let params = json!({
            "artifact": artifact_to_wire(input.as_ref()),
            "build_name": cx.build_name,
            "builder_type": cx.builder_type,
            "run_uuid": cx.run_uuid,
        });
        let peer = &self.session.peer;
        let r: PostProcessResult = call(
            peer,
            "post-process",
            params,
            &Services::ui(cx.ui),
            Some(&cx.cancel),
        )
        .await
        .map_err(build_error)?;
        let keep_input = if r.force_keep_input {
            KeepInput::Force(r.keep_input)
        } else {
            KeepInput::Default(r.keep_input)
        };
        Ok(PostProcessed {
            artifact: artifact_from(&self.session, r.artifact).unwrap_or(input),
            keep_input,
        })
    }
}

struct PluginDataSource {
    session: Arc<Session>,
    name: &'static str,
    ui: Arc<DataSourceUi>,
}

#[async_trait]
impl DataSource for PluginDataSource {
    async fn execute(&self, cx: DataSourceContext) -> Result<Value, BuildError> {
        let ui = Services::ui(self.ui.as_ref());
        let peer = &self.session.peer;
        let r: ExecuteResult = call(peer, "execute", json!({}), &ui, Some(&cx.cancel))
            .await
            .map_err(build_error)?;
        match r.output {
            Some(v @ Value::Object(_)) => Ok(v),
            other => Err(BuildError::msg(format!(
                "plugin `{}` answered `execute` of data source `{}` without an `output` object (found {})",
                self.session.name,
                self.name,
                other.map(|v| v.to_string()).unwrap_or_else(|| "nothing".into())
            ))),
        }
    }
}

/// The UI of a data source's `execute`: every line is scrubbed of the
/// prepare context's secrets, then shown on the host's UI when one was
/// given ([`PluginComponent::with_ui`]), else written to stderr the way
/// Packer's human UI writes them (`==> data.TYPE: …`).
struct DataSourceUi {
    host: Option<Arc<dyn Ui>>,
    label: String,
    redactor: Redactor,
}

impl DataSourceUi {
    fn line(&self, message: &str, show: fn(&dyn Ui, &str), marker: &str) {
        let message = self.redactor.redact(message);
        match &self.host {
            Some(ui) => show(ui.as_ref(), &message),
            None => {
                use std::io::Write;
                let mut err = std::io::stderr().lock();
                for l in message.lines() {
                    let _ = writeln!(err, "{marker} {}: {l}", self.label);
                }
            }
        }
    }
}

#[async_trait]
impl Ui for DataSourceUi {
    fn say(&self, message: &str) {
        self.line(message, |ui, m| ui.say(m), "==>")
    }
    fn message(&self, message: &str) {
        self.line(message, |ui, m| ui.message(m), "   ")
    }
    fn error(&self, message: &str) {
        self.line(message, |ui, m| ui.error(m), "==>")
    }
    fn machine(&self, kind: &str, args: &[&str]) {
        if let Some(ui) = &self.host {
            let args: Vec<String> = args
                .iter()
                .map(|a| self.redactor.redact(a).into_owned())
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ui.machine(kind, &args)
        }
    }
    fn step_started(&self, step: &str) {
        if let Some(ui) = &self.host {
            ui.step_started(&self.redactor.redact(step))
        }
    }
    async fn ask(&self, question: &str) -> Result<String, UiError> {
        match &self.host {
            Some(ui) => ui.ask(&self.redactor.redact(question)).await,
            None => Err(UiError::NotInteractive(
                self.redactor.redact(question).into_owned(),
            )),
        }
    }
}
