//! The plugin author's side: [`serve`] turns a set of components written
//! against kiln-sdk's traits — exactly like built-in ones — into a plugin
//! binary that speaks kiln's plugin protocol on stdin/stdout. It keeps what
//! the host offered in the handshake, the one component instance the host
//! prepared, the cancellation token of every call in progress, and the
//! last artifact made (for `artifact.destroy`). It ends when the host
//! closes stdin.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kiln_sdk::artifact::ArtifactError;
use kiln_sdk::communicator::Communicator;
use kiln_sdk::component::{
    BuildContext, BuildError, DataSourceContext, GeneratedData, HookEvent, KeepInput,
    PostProcessContext, ProvisionContext,
};
use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_sdk::interpolate::{Context, Generated};
use kiln_sdk::ui::{Redactor, Ui};
use kiln_sdk::{
    Artifact, Builder, BuilderFactory, DataSource, DataSourceFactory, Hook, PostProcessor,
    PostProcessorFactory, PrepareContext, Prepared, Provisioner, ProvisionerFactory,
};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::peer::{Incoming, Peer};
use crate::protocol::{
    self, Description, ExecuteResult, HandshakeParams, HandshakeResult, Kind, PostProcessResult,
    PrepareResult, RunResult, WireArtifact, WireConfigError, WireContext, WireError, MAGIC_ENV,
    MAGIC_VALUE, PLUGIN_CAPABILITIES, PROTOCOL_MAX, PROTOCOL_MIN,
};
use crate::proxy::{object_strings, string_map, CommProxy, ProgressLines, Services, UiProxy};

/// What a plugin binary serves.
#[derive(Default)]
pub struct Components {
    /// The plugin's version (`env!("CARGO_PKG_VERSION")`).
    pub version: &'static str,
    /// Builder types.
    pub builders: Vec<Box<dyn BuilderFactory>>,
    /// Provisioner types.
    pub provisioners: Vec<Box<dyn ProvisionerFactory>>,
    /// Post-processor types.
    pub post_processors: Vec<Box<dyn PostProcessorFactory>>,
    /// Data source types (HCL2 `data` blocks).
    pub data_sources: Vec<Box<dyn DataSourceFactory>>,
}

impl Components {
    /// The `describe` answer.
    pub fn description(&self) -> Description {
        Description {
            version: self.version.to_string(),
            protocol_min: PROTOCOL_MIN,
            protocol_max: PROTOCOL_MAX,
            builders: self.builders.iter().map(|f| f.name().to_string()).collect(),
            provisioners: self
                .provisioners
                .iter()
                .map(|f| f.name().to_string())
                .collect(),
            post_processors: self
                .post_processors
                .iter()
                .map(|f| f.name().to_string())
                .collect(),
            data_sources: self
                .data_sources
                .iter()
                .map(|f| f.name().to_string())
                .collect(),
        }
    }
}

/// The `main` of a plugin: `describe` prints what it serves; `serve`
/// (as kiln runs it) speaks the protocol until kiln closes stdin.
pub fn serve(components: Components) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let d = components.description();
    match args.first().map(String::as_str) {
        Some("describe") => {
            println!("{}", serde_json::to_string(&d).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Some("serve") if std::env::var(MAGIC_ENV).as_deref() == Ok(MAGIC_VALUE) => {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(run(Arc::new(components))) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            let mut all: Vec<String> = Vec::new();
            all.extend(d.builders.iter().map(|b| format!("builder `{b}`")));
            all.extend(d.provisioners.iter().map(|b| format!("provisioner `{b}`")));
            all.extend(
                d.post_processors
                    .iter()
                    .map(|b| format!("post-processor `{b}`")),
            );
            all.extend(d.data_sources.iter().map(|b| format!("data source `{b}`")));
            eprintln!(
                "this is a kiln plugin (version {}, kiln plugin protocol {}..={}); kiln starts it \
                 when a template uses one of its components: {}\n\nUsage: {} describe",
                d.version,
                d.protocol_min,
                d.protocol_max,
                all.join(", "),
                std::env::args().next().unwrap_or_default()
            );
            ExitCode::FAILURE
        }
    }
}

#[derive(Clone)]
enum Instance {
    Builder(Arc<dyn Builder>),
    Provisioner(Arc<dyn Provisioner>),
    PostProcessor(Arc<dyn PostProcessor>),
    DataSource(Arc<dyn DataSource>),
}

#[derive(Default)]
struct State {
    /// What the host offered in the handshake.
    host_capabilities: Vec<String>,
    instance: Option<(Instance, WireContext, Redactor)>,
    cancels: HashMap<u64, CancellationToken>,
    last_artifact: Option<Arc<dyn Artifact>>,
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

async fn run(components: Arc<Components>) -> Result<(), String> {
    let (peer, mut incoming) = Peer::start(
        "kiln",
        Box::new(std::io::stdin()),
        Box::new(std::io::stdout()),
        Box::new(|| "kiln closed the connection".to_string()),
    )
    .map_err(|e| format!("cannot read from kiln: {e}"))?;
    let state: Shared = Arc::default();
    while let Some(msg) = incoming.recv().await {
        match msg {
            Incoming::Notify { method, params, .. } => {
                if method == "cancel" {
                    if let Some(id) = params["id"].as_u64() {
                        if let Some(t) = lock(&state).cancels.get(&id) {
                            t.cancel();
                        }
                    }
                }
            }
            Incoming::Request {
                id, method, params, ..
            } => {
                let reply = match method.as_str() {
                    "handshake" => Some(handshake(&components, &state, params)),
                    "prepare" => Some(prepare(&components, &state, params)),
                    "run" | "provision" | "post-process" | "execute" | "artifact.destroy" => {
                        let token = CancellationToken::new();
                        lock(&state).cancels.insert(id, token.clone());
                        let (peer, state) = (peer.clone(), state.clone());
                        tokio::spawn(async move {
                            let task = {
                                let (peer, state, token) = (peer.clone(), state.clone(), token);
                                tokio::spawn(async move {
                                    call(&peer, &state, id, &method, params, token).await
                                })
                            };
                            let reply = task.await.unwrap_or_else(|e| {
                                Err(WireError::new(
                                    "failed",
                                    format!("the plugin panicked: {e}"),
                                ))
                            });
                            lock(&state).cancels.remove(&id);
                            peer.respond(id, reply);
                        });
                        None
                    }
                    other => Some(Err(WireError::new(
                        "unknown-method",
                        format!("unknown method `{other}`"),
                    ))),
                };
                if let Some(r) = reply {
                    peer.respond(id, r);
                }
            }
        }
    }
    Ok(())
}

fn handshake(c: &Components, state: &Shared, params: Value) -> Result<Value, WireError> {
    let h: HandshakeParams = serde_json::from_value(params)
        .map_err(|e| WireError::new("failed", format!("bad handshake: {e}")))?;
    lock(state).host_capabilities = h.capabilities;
    let protocol = protocol::negotiate(
        (h.protocol_min, h.protocol_max),
        (PROTOCOL_MIN, PROTOCOL_MAX),
    )
    .unwrap_or(0);
    answer(HandshakeResult {
        protocol,
        capabilities: PLUGIN_CAPABILITIES.iter().map(|s| s.to_string()).collect(),
        description: c.description(),
    })
}

fn interpolation(w: &WireContext) -> Context {
    let mut cx = Context {
        user_variables: Arc::new(object_strings(&w.user_variables)),
        build_name: Some(w.build_name.clone()),
        build_type: Some(w.builder_type.clone()),
        template_dir: Some(w.template_dir.clone()),
        ..Context::default()
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&w.init_time) {
        cx.init_time = t.with_timezone(&chrono::Utc);
    }
    cx
}

fn config_error(errors: ConfigErrors, redactor: &Redactor) -> WireError {
    let n = errors.0.len();
    let mut e = WireError::new(
        "config",
        format!("{n} configuration problem{}", if n == 1 { "" } else { "s" }),
    );
    e.errors = errors
        .0
        .into_iter()
        .map(|c| WireConfigError {
            path: c.path,
            message: redactor.redact(&c.message).into_owned(),
            hint: c.hint,
        })
        .collect();
    e
}

fn prepare(c: &Components, state: &Shared, params: Value) -> Result<Value, WireError> {
    let kind: Kind = serde_json::from_value(params["kind"].clone())
        .map_err(|e| WireError::new("failed", format!("bad `kind`: {e}")))?;
    let type_name = params["type"].as_str().unwrap_or_default();
    let wire: WireContext = serde_json::from_value(params["context"].clone()).unwrap_or_default();
    let raw = RawConfig::from_value(params["config"].clone());
    let redactor = Redactor::new();
    let cx = PrepareContext {
        build_name: wire.build_name.clone(),
        builder_type: wire.builder_type.clone(),
        interpolation: interpolation(&wire),
        redactor: redactor.clone(),
        debug: wire.debug,
        force: wire.force,
        on_error: wire.on_error.parse().unwrap_or_default(),
        template_dir: PathBuf::from(&wire.template_dir),
    };
    let unknown = || {
        WireError::new(
            "failed",
            format!("this plugin has no {} `{type_name}`", kind.as_str()),
        )
    };
    let found = match kind {
        Kind::Builder => prepare_one(&c.builders, type_name, &raw, &cx),
        Kind::Provisioner => prepare_one(&c.provisioners, type_name, &raw, &cx),
        Kind::PostProcessor => prepare_one(&c.post_processors, type_name, &raw, &cx),
        Kind::DataSource => prepare_one(&c.data_sources, type_name, &raw, &cx),
    };
    let (instance, p) = found
        .ok_or_else(unknown)?
        .map_err(|e| config_error(e, &redactor))?;
    lock(state).instance = Some((instance, wire, redactor));
    answer(PrepareResult {
        warnings: p.warnings,
        generated: p.generated,
    })
}

/// What `prepare` needs of each of kiln-sdk's factory traits.
trait Factory {
    /// The component it makes.
    type Made: ?Sized;
    fn type_name(&self) -> &'static str;
    fn make(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<Self::Made>>, ConfigErrors>;
    fn instance(made: Arc<Self::Made>) -> Instance;
}

macro_rules! factory {
    ($($factory:ident => $made:ident),* $(,)?) => {$(
        impl Factory for dyn $factory {
            type Made = dyn $made;
            fn type_name(&self) -> &'static str {
                self.name()
            }
            fn make(
                &self,
                raw: &RawConfig,
                cx: &PrepareContext,
            ) -> Result<Prepared<Box<dyn $made>>, ConfigErrors> {
                self.prepare(raw, cx)
            }
            fn instance(made: Arc<dyn $made>) -> Instance {
                Instance::$made(made)
            }
        }
    )*};
}

factory!(
    BuilderFactory => Builder,
    ProvisionerFactory => Provisioner,
    PostProcessorFactory => PostProcessor,
    DataSourceFactory => DataSource,
);

/// Prepares the factory of `list` named `type_name`: `None` when there is
/// none; else the prepared instance, with the rest of what `prepare` said
/// (warnings, generated keys) in a `Prepared` whose component is taken.
fn prepare_one<F: Factory + ?Sized>(
    list: &[Box<F>],
    type_name: &str,
    raw: &RawConfig,
    cx: &PrepareContext,
) -> Option<Result<(Instance, Prepared<()>), ConfigErrors>> {
    let f = list.iter().find(|f| f.type_name() == type_name)?;
    Some(f.make(raw, cx).map(|p| {
        let instance = F::instance(Arc::from(p.component));
        let rest = Prepared {
            component: (),
            warnings: p.warnings,
            generated: p.generated,
        };
        (instance, rest)
    }))
}

/// An answer as the wire carries it.
fn answer(v: impl serde::Serialize) -> Result<Value, WireError> {
    serde_json::to_value(v).map_err(|e| WireError::new("failed", e.to_string()))
}

fn build_error(e: BuildError, redactor: &Redactor) -> WireError {
    match e {
        BuildError::Cancelled => WireError::new("cancelled", "build was cancelled"),
        BuildError::Failed(m) => WireError::new("failed", redactor.redact(&m).into_owned()),
    }
}

fn to_wire(a: &dyn Artifact) -> WireArtifact {
    let mut w = crate::host::artifact_to_wire(a);
    for key in ["image", "path", "id"] {
        if let Some(v) = a.state(key) {
            w.state.insert(key.into(), v);
        }
    }
    w
}

async fn call(
    peer: &Peer,
    state: &Shared,
    id: u64,
    method: &str,
    params: Value,
    cancel: CancellationToken,
) -> Result<Value, WireError> {
    if method == "artifact.destroy" {
        let a = lock(state).last_artifact.clone();
        if let Some(a) = a {
            a.destroy()
                .await
                .map_err(|e| WireError::new("failed", e.to_string()))?;
        }
        return Ok(Value::Null);
    }
    let (instance, wire, redactor, progress) = {
        let st = lock(state);
        let Some((i, w, r)) = &st.instance else {
            return Err(WireError::new("failed", "`prepare` was not called"));
        };
        let progress = ProgressLines::for_host(&st.host_capabilities);
        (i.clone(), w.clone(), r.clone(), progress)
    };
    let ui = Arc::new(UiProxy::new(peer.clone(), id, redactor.clone(), progress));
    let on_error = wire.on_error.parse().unwrap_or_default();
    match (method, instance) {
        ("run", Instance::Builder(b)) => {
            let run_uuid = params["run_uuid"].as_str().unwrap_or_default().to_string();
            let cx = BuildContext {
                ui,
                hook: Arc::new(HookProxy {
                    peer: peer.clone(),
                    call: id,
                }),
                cancel,
                on_error,
                debug: wire.debug,
                force: wire.force,
                run_uuid: &run_uuid,
                // A plugin's builder records for itself only.
                record: Default::default(),
                checkpoints: None,
            };
            let a = b.run(cx).await.map_err(|e| build_error(e, &redactor))?;
            let artifact = a.as_deref().map(to_wire);
            lock(state).last_artifact = a;
            answer(RunResult { artifact })
        }
        ("provision", Instance::Provisioner(p)) => {
            let generated: GeneratedData = Arc::new(string_map(&params["generated"]));
            let mut interp = interpolation(&wire);
            interp.generated = Generated::Known(generated.clone());
            // Attachments made inside a plugin stay in the plugin.
            let record = kiln_sdk::BuildRecord::default();
            let cx = ProvisionContext {
                ui: ui.as_ref(),
                cancel,
                interpolation: &interp,
                generated: &generated,
                debug: wire.debug,
                record: &record,
            };
            let comm = CommProxy {
                peer: peer.clone(),
                call: Some(id),
            };
            p.provision(cx, &comm)
                .await
                .map_err(|e| build_error(e, &redactor))?;
            Ok(Value::Null)
        }
        ("post-process", Instance::PostProcessor(p)) => {
            let w: WireArtifact = serde_json::from_value(params["artifact"].clone())
                .map_err(|e| WireError::new("failed", format!("bad artifact: {e}")))?;
            let input: Arc<dyn Artifact> = Arc::new(HostArtifact(w));
            let interp = interpolation(&wire);
            let record = kiln_sdk::BuildRecord::default();
            let cx = PostProcessContext {
                ui: ui.as_ref(),
                cancel,
                build_name: params["build_name"].as_str().unwrap_or_default(),
                builder_type: params["builder_type"].as_str().unwrap_or_default(),
                run_uuid: params["run_uuid"].as_str().unwrap_or_default(),
                interpolation: &interp,
                record: &record,
                builder: None,
                options: Default::default(),
            };
            let r = p
                .post_process(cx, input.clone())
                .await
                .map_err(|e| build_error(e, &redactor))?;
            let (keep_input, force_keep_input) = match r.keep_input {
                KeepInput::Default(k) => (k, false),
                KeepInput::Force(k) => (k, true),
            };
            let same = Arc::ptr_eq(&r.artifact, &input);
            let artifact = (!same).then(|| to_wire(r.artifact.as_ref()));
            if !same {
                lock(state).last_artifact = Some(r.artifact);
            }
            answer(PostProcessResult {
                artifact,
                keep_input,
                force_keep_input,
            })
        }
        ("execute", Instance::DataSource(d)) => {
            let output = d
                .execute(DataSourceContext { cancel })
                .await
                .map_err(|e| build_error(e, &redactor))?;
            if !output.is_object() {
                return Err(WireError::new(
                    "failed",
                    "the data source's output is not an object",
                ));
            }
            answer(ExecuteResult {
                output: Some(output),
            })
        }
        (m, _) => Err(WireError::new(
            "failed",
            format!("`{m}` does not apply to the prepared component"),
        )),
    }
}

/// The host's artifact, as a plugin post-processor sees it. The host owns
/// it: destroying it from the plugin is not supported.
#[derive(Debug)]
struct HostArtifact(WireArtifact);

#[async_trait]
impl Artifact for HostArtifact {
    fn builder_id(&self) -> &str {
        &self.0.builder_id
    }
    fn id(&self) -> String {
        self.0.id.clone()
    }
    fn files(&self) -> Vec<PathBuf> {
        self.0.files.iter().map(PathBuf::from).collect()
    }
    fn describe(&self) -> String {
        self.0.description.clone()
    }
    fn state(&self, key: &str) -> Option<Value> {
        self.0.state.get(key).cloned()
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        Err(ArtifactError {
            id: self.0.id.clone(),
            message: "kiln owns this artifact; the plugin cannot destroy it".into(),
        })
    }
}

/// The host's provisioners, as a plugin builder's hook.
struct HookProxy {
    peer: Peer,
    call: u64,
}

#[async_trait]
impl Hook for HookProxy {
    async fn run(
        &self,
        event: HookEvent,
        ui: &dyn Ui,
        communicator: &dyn Communicator,
        generated: &GeneratedData,
        cancel: &CancellationToken,
    ) -> Result<(), BuildError> {
        let event = match event {
            HookEvent::Provision => "provision",
            HookEvent::CleanupProvision => "cleanup-provision",
        };
        self.peer
            .call(
                "hook.run",
                json!({ "event": event, "generated": generated.as_ref(), "communicator": true }),
                Some(self.call),
                &Services {
                    comm: Some(communicator),
                    ..Services::ui(ui)
                },
                Some(cancel),
            )
            .await
            .map(|_| ())
            .map_err(|e| match e.kind.as_str() {
                "cancelled" => BuildError::Cancelled,
                _ => BuildError::Failed(e.message),
            })
    }
}
