//! The host side: starting a kiln plugin process, the handshake, and the
//! factories that make a plugin's components look like built-in ones to
//! the engine (and, for data sources, to template evaluation). Each prepared component owns one plugin process (started by
//! `prepare`, which runs the plugin's own `prepare`); the process is killed
//! when the component and every artifact it made are dropped. The process
//! gets its own process group, so Ctrl-C reaches it only as the protocol's
//! `cancel`, and the host decides when it ends.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiln_sdk::artifact::ArtifactError;
use kiln_sdk::communicator::{Communicator, NoCommunicator};
use kiln_sdk::component::{
    BuildContext, BuildError, DataSourceContext, GeneratedData, HookEvent, KeepInput,
    PostProcessContext, PostProcessed, ProvisionContext,
};
use kiln_sdk::config::{ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::step::OnError;
use kiln_sdk::ui::Ui;
use kiln_sdk::{
    Artifact, Builder, BuilderFactory, DataSource, DataSourceFactory, Hook, PostProcessor,
    PostProcessorFactory, PrepareContext, Prepared, Provisioner, ProvisionerFactory,
};
use serde_json::{json, Value};

use crate::peer::{block_on, Callbacks, NoCallbacks, Peer};
use crate::protocol::{
    self, Description, HandshakeParams, HandshakeResult, Kind, WireArtifact, WireContext,
    WireError, CAP_DATA_SOURCE, HOST_CAPABILITIES, MAGIC_ENV, MAGIC_VALUE, PROTOCOL_MAX,
    PROTOCOL_MIN,
};
use crate::proxy::{serve_ask, serve_comm, show_ui, CommProxy};

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
                        eprintln!("plugin: {line}");
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
        let r = block_on(peer.call(
            "handshake",
            serde_json::to_value(&params).unwrap_or_default(),
            None,
            &NoCallbacks,
            None,
        ));
        answered.store(true, std::sync::atomic::Ordering::SeqCst);
        let r = r.map_err(|e| self.wire_error(e))?;
        let hs: HandshakeResult = serde_json::from_value(r).map_err(|e| PluginError::Protocol {
            name: self.name.clone(),
            message: format!("bad handshake answer: {e}"),
        })?;
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

/// A prepared remote component: its session, warnings and generated keys.
type Remote = (Arc<Session>, Vec<String>, Vec<String>);

/// Starts the plugin and runs its `prepare` for one component.
fn prepare_remote(
    plugin: &PluginBinary,
    kind: Kind,
    type_name: &str,
    raw: &RawConfig,
    cx: &PrepareContext,
) -> Result<Remote, ConfigErrors> {
    let at_block = |message: String| {
        let mut e = ConfigError::new(message);
        e.location = raw.location.clone();
        ConfigErrors::from(e)
    };
    let session = plugin.connect().map_err(|e| at_block(e.to_string()))?;
    if kind == Kind::DataSource && !session.capabilities.iter().any(|c| c == CAP_DATA_SOURCE) {
        let mut e = ConfigError::new(format!(
            "data source `{type_name}`: plugin `{}` lists it, but does not serve data sources \
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
        "type": type_name,
        "config": Value::Object(raw.values.clone()),
        "context": wire_context(cx),
    });
    match block_on(
        session
            .peer
            .call("prepare", params, None, &NoCallbacks, None),
    ) {
        Ok(r) => {
            let list = |k: &str| -> Vec<String> {
                r[k].as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            Ok((Arc::new(session), list("warnings"), list("generated")))
        }
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
            "{} `{type_name}` (plugin `{}`): {}",
            kind.as_str(),
            plugin.name,
            e.message
        ))),
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

/// A builder type served by a kiln plugin.
pub struct PluginBuilderFactory {
    name: &'static str,
    plugin: PluginBinary,
}

impl PluginBuilderFactory {
    /// Registers `type_name` as served by `plugin`.
    pub fn new(type_name: &str, plugin: PluginBinary) -> Self {
        PluginBuilderFactory {
            name: leak(type_name),
            plugin,
        }
    }
}

impl BuilderFactory for PluginBuilderFactory {
    fn name(&self) -> &'static str {
        self.name
    }
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Builder>>, ConfigErrors> {
        let (session, warnings, generated) =
            prepare_remote(&self.plugin, Kind::Builder, self.name, raw, cx)?;
        Ok(Prepared {
            component: Box::new(PluginBuilder { session }),
            warnings,
            generated,
        })
    }
}

struct PluginBuilder {
    session: Arc<Session>,
}

struct BuildCallbacks<'a> {
    ui: &'a dyn Ui,
    hook: &'a dyn Hook,
    cancel: &'a tokio_util::sync::CancellationToken,
}

#[async_trait]
impl Callbacks for BuildCallbacks<'_> {
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
        match method {
            "ui.ask" => serve_ask(self.ui, &params).await,
            "hook.run" => {
                let event = match params["event"].as_str() {
                    Some("cleanup-provision") => HookEvent::CleanupProvision,
                    _ => HookEvent::Provision,
                };
                let generated: GeneratedData = Arc::new(
                    params["generated"]
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .map(|(k, v)| {
                                    (
                                        k.clone(),
                                        v.as_str()
                                            .map(String::from)
                                            .unwrap_or_else(|| v.to_string()),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                );
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
                match self
                    .hook
                    .run(event, self.ui, comm, &generated, self.cancel)
                    .await
                {
                    Ok(()) => Ok(Value::Null),
                    Err(BuildError::Cancelled) => {
                        Err(WireError::new("cancelled", "build was cancelled"))
                    }
                    Err(e) => Err(WireError::new("failed", e.to_string())),
                }
            }
            _ => NoCallbacks.request(peer, id, method, params).await,
        }
    }
}

#[async_trait]
impl Builder for PluginBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let callbacks = BuildCallbacks {
            ui: cx.ui.as_ref(),
            hook: cx.hook.as_ref(),
            cancel: &cx.cancel,
        };
        let r = self
            .session
            .peer
            .call(
                "run",
                json!({ "run_uuid": cx.run_uuid }),
                None,
                &callbacks,
                Some(&cx.cancel),
            )
            .await
            .map_err(build_error)?;
        Ok(artifact_from(&self.session, &r["artifact"]))
    }
}

fn artifact_from(session: &Arc<Session>, v: &Value) -> Option<Arc<dyn Artifact>> {
    if v.is_null() {
        return None;
    }
    let wire: WireArtifact = serde_json::from_value(v.clone()).ok()?;
    Some(Arc::new(PluginArtifact {
        wire,
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
        self.session
            .peer
            .call("artifact.destroy", Value::Null, None, &NoCallbacks, None)
            .await
            .map(|_| ())
            .map_err(|e| ArtifactError {
                id: self.wire.id.clone(),
                message: e.message,
            })
    }
}

/// A provisioner type served by a kiln plugin.
pub struct PluginProvisionerFactory {
    name: &'static str,
    plugin: PluginBinary,
}

impl PluginProvisionerFactory {
    /// Registers `type_name` as served by `plugin`.
    pub fn new(type_name: &str, plugin: PluginBinary) -> Self {
        PluginProvisionerFactory {
            name: leak(type_name),
            plugin,
        }
    }
}

impl ProvisionerFactory for PluginProvisionerFactory {
    fn name(&self) -> &'static str {
        self.name
    }
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let (session, warnings, generated) =
            prepare_remote(&self.plugin, Kind::Provisioner, self.name, raw, cx)?;
        Ok(Prepared {
            component: Box::new(PluginProvisioner { session }),
            warnings,
            generated,
        })
    }
}

struct PluginProvisioner {
    session: Arc<Session>,
}

struct ProvisionCallbacks<'a> {
    ui: &'a dyn Ui,
    comm: &'a dyn Communicator,
}

#[async_trait]
impl Callbacks for ProvisionCallbacks<'_> {
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
        if method == "ui.ask" {
            return serve_ask(self.ui, &params).await;
        }
        match serve_comm(self.comm, peer, id, method, &params).await {
            Some(r) => r,
            None => NoCallbacks.request(peer, id, method, params).await,
        }
    }
}

#[async_trait]
impl Provisioner for PluginProvisioner {
    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        communicator: &dyn Communicator,
    ) -> Result<(), BuildError> {
        let callbacks = ProvisionCallbacks {
            ui: cx.ui,
            comm: communicator,
        };
        self.session
            .peer
            .call(
                "provision",
                json!({ "generated": cx.generated.as_ref() }),
                None,
                &callbacks,
                Some(&cx.cancel),
            )
            .await
            .map(|_| ())
            .map_err(build_error)
    }
}

/// A post-processor type served by a kiln plugin.
pub struct PluginPostProcessorFactory {
    name: &'static str,
    plugin: PluginBinary,
}

impl PluginPostProcessorFactory {
    /// Registers `type_name` as served by `plugin`.
    pub fn new(type_name: &str, plugin: PluginBinary) -> Self {
        PluginPostProcessorFactory {
            name: leak(type_name),
            plugin,
        }
    }
}

impl PostProcessorFactory for PluginPostProcessorFactory {
    fn name(&self) -> &'static str {
        self.name
    }
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let (session, warnings, generated) =
            prepare_remote(&self.plugin, Kind::PostProcessor, self.name, raw, cx)?;
        Ok(Prepared {
            component: Box::new(PluginPostProcessor { session }),
            warnings,
            generated,
        })
    }
}

struct PluginPostProcessor {
    session: Arc<Session>,
}

struct UiOnly<'a>(&'a dyn Ui);

#[async_trait]
impl Callbacks for UiOnly<'_> {
    fn notify(&self, method: &str, params: Value) {
        if method == "ui" {
            show_ui(self.0, &params)
        }
    }
    async fn request(
        &self,
        peer: &Peer,
        id: u64,
        method: &str,
        params: Value,
    ) -> Result<Value, WireError> {
        if method == "ui.ask" {
            return serve_ask(self.0, &params).await;
        }
        NoCallbacks.request(peer, id, method, params).await
    }
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
        let r = self
            .session
            .peer
            .call(
                "post-process",
                json!({
                    "artifact": artifact_to_wire(input.as_ref()),
                    "build_name": cx.build_name,
                    "builder_type": cx.builder_type,
                    "run_uuid": cx.run_uuid,
                }),
                None,
                &UiOnly(cx.ui),
                Some(&cx.cancel),
            )
            .await
            .map_err(build_error)?;
        let artifact = artifact_from(&self.session, &r["artifact"]).unwrap_or(input);
        let keep = r["keep_input"].as_bool().unwrap_or(false);
        let keep_input = if r["force_keep_input"].as_bool().unwrap_or(false) {
            KeepInput::Force(keep)
        } else {
            KeepInput::Default(keep)
        };
        Ok(PostProcessed {
            artifact,
            keep_input,
        })
    }
}

/// A data source type served by a kiln plugin. Preparing it starts the
/// plugin (which must offer the `data-source` capability) and runs its
/// `prepare`; executing it sends `execute`, whose `output` is the data.
pub struct PluginDataSourceFactory {
    name: &'static str,
    plugin: PluginBinary,
}

impl PluginDataSourceFactory {
    /// Registers `type_name` as served by `plugin`.
    pub fn new(type_name: &str, plugin: PluginBinary) -> Self {
        PluginDataSourceFactory {
            name: leak(type_name),
            plugin,
        }
    }
}

impl DataSourceFactory for PluginDataSourceFactory {
    fn name(&self) -> &'static str {
        self.name
    }
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn DataSource>>, ConfigErrors> {
        let (session, warnings, generated) =
            prepare_remote(&self.plugin, Kind::DataSource, self.name, raw, cx)?;
        Ok(Prepared {
            component: Box::new(PluginDataSource {
                session,
                name: self.name,
            }),
            warnings,
            generated,
        })
    }
}

struct PluginDataSource {
    session: Arc<Session>,
    name: &'static str,
}

#[async_trait]
impl DataSource for PluginDataSource {
    async fn execute(&self, cx: DataSourceContext) -> Result<Value, BuildError> {
        let r = self
            .session
            .peer
            .call("execute", json!({}), None, &NoCallbacks, Some(&cx.cancel))
            .await
            .map_err(build_error)?;
        match r.get("output") {
            Some(v @ Value::Object(_)) => Ok(v.clone()),
            other => Err(BuildError::msg(format!(
                "plugin `{}` answered `execute` of data source `{}` without an `output` object (found {})",
                self.session.name,
                self.name,
                other.map(|v| v.to_string()).unwrap_or_else(|| "nothing".into())
            ))),
        }
    }
}
