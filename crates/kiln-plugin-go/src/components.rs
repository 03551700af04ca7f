//! The Go components behind kiln's traits. Each factory's `prepare` starts
//! the plugin process and calls its `Prepare`/`Configure` (Packer does the
//! same: a plugin's config is only known to the plugin), so every error the
//! plugin reports comes back with the template location. The prepared
//! component keeps that process for its run.
//!
//! Stores: the connection to the plugin. Cleanup: dropping the prepared
//! component ends the plugin (see [`crate::plugin::PluginConn`]). A
//! cancelled run calls the plugin's `Cancel` and waits for the plugin's own
//! cleanup to finish.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::stream::{FuturesUnordered, StreamExt};
use kiln_sdk::component::{BuildError, GeneratedData, KeepInput};
use kiln_sdk::config::{ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::step::OnError;
use kiln_sdk::{
    Artifact, BuildContext, Builder, BuilderFactory, Communicator, HookEvent, PostProcessContext,
    PostProcessed, PostProcessor, PostProcessorFactory, PrepareContext, Prepared, ProvisionContext,
    Provisioner, ProvisionerFactory,
};
use tokio_util::sync::CancellationToken;

use crate::callbacks::{
    artifact_call, communicator_call, error_message, DeferredWork, RemoteArtifact,
    RemoteCommunicator, UiServer,
};
use crate::cty;
use crate::msgpack::Value;
use crate::plugin::PluginConn;
use crate::rpc::{serve, RpcClient};
use crate::{block_on_bridge, GoPluginCommand, GoPluginError};

/// How long kiln waits for the plugin to open the callback stream it was
/// given.
const CALLBACK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn on_error_name(o: OnError) -> &'static str {
    match o {
        OnError::Cleanup => "cleanup",
        OnError::Abort => "abort",
        OnError::Ask => "ask",
        OnError::RunCleanupProvisioner => "run-cleanup-provisioner",
    }
}

/// How a factory sends the component's config to the plugin's `Prepare`
/// / `Configure` (plugin-protocol.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfigEncoding {
    /// As Packer does: cty JSON for a config from an HCL2 template (its
    /// file ends in `.pkr.hcl` or `.pkr.json`), a plain map otherwise.
    #[default]
    Auto,
    /// A plain msgpack map, as Packer sends a JSON template's config.
    Legacy,
    /// `{"value","type"}` cty JSON in msgpack `bin`, as Packer sends an
    /// HCL2 template's config (types inferred, see [`crate::cty`]).
    Cty,
}

impl ConfigEncoding {
    /// `Legacy` or `Cty` for this config.
    pub fn resolve(self, raw: &RawConfig) -> ConfigEncoding {
        match self {
            ConfigEncoding::Auto => {
                let hcl2 = raw.location.as_ref().is_some_and(|l| {
                    let f = l.file.to_ascii_lowercase();
                    f.ends_with(".pkr.hcl") || f.ends_with(".pkr.json")
                });
                if hcl2 {
                    ConfigEncoding::Cty
                } else {
                    ConfigEncoding::Legacy
                }
            }
            other => other,
        }
    }
}

/// The `Configs` argument: the user's config and Packer's own keys. In cty
/// mode the order is Packer's HCL2 one (its keys first, then the config).
fn configs(raw: &RawConfig, cx: &PrepareContext, encoding: ConfigEncoding) -> Value {
    let user_json = serde_json::Value::Object(raw.values.clone());
    let vars = Value::map(
        cx.interpolation
            .user_variables
            .iter()
            .map(|(k, v)| (k.clone(), Value::str(v))),
    );
    let packer = Value::map([
        ("packer_build_name", Value::str(&cx.build_name)),
        ("packer_builder_type", Value::str(&cx.builder_type)),
        (
            "packer_core_version",
            Value::str(cx.interpolation.packer_version),
        ),
        ("packer_debug", Value::Bool(cx.debug)),
        ("packer_force", Value::Bool(cx.force)),
        ("packer_on_error", Value::str(on_error_name(cx.on_error))),
        ("packer_template_path", Value::str("")),
        ("packer_user_variables", vars),
    ]);
    let list = match encoding.resolve(raw) {
        ConfigEncoding::Cty => {
            let bin = cty::marshal_inferred(&user_json);
            crate::trace!("cty config: {}", String::from_utf8_lossy(&bin));
            vec![packer, Value::Bin(bin)]
        }
        _ => vec![Value::from_json(&user_json), packer],
    };
    Value::map([("Configs", Value::Array(list))])
}

/// Packer's `MultiError` text (`2 error(s) occurred:\n\n* a\n* b`) as one
/// config error per item, located at the component. An item's
/// continuation lines (Packer's `Note: …` under an item) stay with it. The
/// host labels the errors with the component (`builder `null``), so the
/// text is the plugin's own.
fn config_errors(message: &str, raw: &RawConfig) -> ConfigErrors {
    let mut items: Vec<String> = Vec::new();
    let mut in_list = false;
    for line in message.lines() {
        let line = line.trim();
        if let Some(item) = line.strip_prefix("* ") {
            items.push(item.to_string());
            in_list = true;
        } else if in_list && !line.is_empty() {
            if let Some(last) = items.last_mut() {
                last.push(' ');
                last.push_str(line);
            }
        }
    }
    if items.is_empty() {
        items.push(message.trim().to_string());
    }
    let mut errors = ConfigErrors::new();
    for i in items {
        errors.push(ConfigError::new(i));
    }
    errors.locate(raw)
}

fn start_error(e: GoPluginError, raw: &RawConfig) -> ConfigErrors {
    ConfigErrors::from(ConfigError::new(e.to_string())).locate(raw)
}

fn generated_value(g: &GeneratedData) -> Value {
    Value::map(g.iter().map(|(k, v)| (k.clone(), Value::str(v))))
}

fn generated_from(v: &Value) -> GeneratedData {
    let mut out = BTreeMap::new();
    if let Value::Map(m) = v {
        for (k, v) in m {
            if let Some(k) = k.as_str() {
                let text = match v {
                    Value::Str(s) => s.clone(),
                    Value::Nil => String::new(),
                    other => match other.to_json() {
                        serde_json::Value::String(s) => s,
                        j => j.to_string(),
                    },
                };
                out.insert(k.to_string(), text);
            }
        }
    }
    Arc::new(out)
}

/// Runs `call` while serving callbacks on the stream the plugin opens with
/// broker id `id` (and running `side`, which never ends by itself);
/// returns the call's result. On `cancel`, asks the plugin to cancel
/// (`{service}.Cancel`) and keeps waiting for it to finish.
#[allow(clippy::too_many_arguments)]
async fn call_serving<'a, H, F>(
    conn: &PluginConn,
    method: &str,
    arg: Value,
    id: u32,
    service: &str,
    cancel: &CancellationToken,
    handler: H,
    side: impl std::future::Future<Output = ()> + 'a,
) -> Result<Value, GoPluginError>
where
    H: Fn(String, Value) -> F + 'a,
    F: std::future::Future<Output = Result<Value, String>> + 'a,
{
    let served = async {
        if let Ok(stream) = conn.broker.accept(id, CALLBACK_TIMEOUT).await {
            serve(stream, handler).await;
        }
        std::future::pending::<()>().await
    };
    let call = conn.call(method, arg);
    let cancel_method = format!("{service}.Cancel");
    let canceller = async {
        cancel.cancelled().await;
        let _ = conn.client.call(&cancel_method, Value::Nil).await;
        std::future::pending::<()>().await
    };
    tokio::pin!(call);
    tokio::select! {
        r = &mut call => r,
        _ = served => unreachable!("serving never ends by itself"),
        _ = side => unreachable!("the side work never ends by itself"),
        _ = canceller => unreachable!("the canceller never ends by itself"),
    }
}

fn build_error(e: GoPluginError, cancel: &CancellationToken) -> BuildError {
    if cancel.is_cancelled() {
        BuildError::Cancelled
    } else {
        BuildError::Failed(e.to_string())
    }
}

/// A started plugin and the result of its `Prepare`/`Configure` call.
type Started = (Arc<PluginConn>, Result<Value, GoPluginError>);

/// Starts the plugin `cmd` and calls its `method` with `args`. Failing to
/// start is an error at the component; the call's own result is left to
/// the caller.
fn start_and_prepare(
    cmd: &GoPluginCommand,
    method: &'static str,
    args: Value,
    raw: &RawConfig,
) -> Result<Started, ConfigErrors> {
    let cmd = cmd.clone();
    block_on_bridge(async move {
        let conn = PluginConn::start(&cmd).await?;
        let r = conn.call(method, args).await;
        Ok::<_, GoPluginError>((conn, r))
    })
    .map_err(|e| start_error(e, raw))
}

/// The prepared component of a plugin whose `Prepare`/`Configure` answers
/// only an error: the plugin's message becomes config errors.
fn configured<C: ?Sized>(
    (conn, r): Started,
    raw: &RawConfig,
    make: impl FnOnce(Arc<PluginConn>) -> Box<C>,
) -> Result<Prepared<Box<C>>, ConfigErrors> {
    match r {
        Ok(_) => Ok(Prepared::new(make(conn))),
        Err(GoPluginError::Remote(m)) => Err(config_errors(&m, raw)),
        Err(e) => Err(start_error(e, raw)),
    }
}

/// Declares a factory type of Go components (`$name`, registered as
/// kiln-sdk's `$factory` of `dyn $component`): the registered name, how to
/// start the plugin and how to send configs, with `new` and
/// `with_config_encoding`. Its `prepare` starts the plugin, calls the
/// plugin's `$prepare` method with the configs, and hands the [`Started`]
/// plugin to `$body` (with `$self`, `$started` and `$raw` bound).
macro_rules! go_factory {
    (
        $(#[$doc:meta])* $name:ident: $factory:ident => $component:ident,
        $prepare:literal,
        |$self:ident, $started:pat_param, $raw:ident| $body:expr
    ) => {
        $(#[$doc])*
        pub struct $name {
            pub(crate) name: &'static str,
            pub(crate) cmd: GoPluginCommand,
            pub(crate) encoding: ConfigEncoding,
        }

        impl $name {
            /// The factory for `cmd`, registered as `type_name`, sending configs
            /// as [`ConfigEncoding::Auto`] does.
            pub fn new(type_name: &str, cmd: GoPluginCommand) -> Self {
                $name {
                    name: crate::leak(type_name),
                    cmd,
                    encoding: ConfigEncoding::Auto,
                }
            }

            /// Sends configs as `encoding` says.
            pub fn with_config_encoding(mut self, encoding: ConfigEncoding) -> Self {
                self.encoding = encoding;
                self
            }
        }

        impl $factory for $name {
            fn name(&self) -> &'static str {
                self.name
            }

            fn prepare(
                &$self,
                $raw: &RawConfig,
                cx: &PrepareContext,
            ) -> Result<Prepared<Box<dyn $component>>, ConfigErrors> {
                let args = configs($raw, cx, $self.encoding);
                let $started = start_and_prepare(&$self.cmd, $prepare, args, $raw)?;
                $body
            }
        }
    };
}

// ---------------------------------------------------------------- builder

go_factory!(
    /// A builder type served by a Go plugin.
    GoBuilderFactory: BuilderFactory => Builder,
    "Builder.Prepare",
    |self, (conn, reply), raw| {
        let reply = reply.map_err(|e| start_error(e, raw))?;
        if let Some(m) = reply.get("Error").and_then(error_message) {
            return Err(config_errors(&m, raw));
        }
        let mut p = Prepared::new(Box::new(GoBuilder { conn }) as Box<dyn Builder>);
        p.warnings = reply
            .get("Warnings")
            .map(Value::strings)
            .unwrap_or_default();
        p.generated = reply
            .get("GeneratedVars")
            .map(Value::strings)
            .unwrap_or_default();
        Ok(p)
    }
);

struct GoBuilder {
    conn: Arc<PluginConn>,
}

#[async_trait]
impl Builder for GoBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let conn = &self.conn;
        let id = conn.broker.next_id();
        let hook_cancel = cx.cancel.child_token();
        let ui = cx.ui.clone();
        let ui_server = &UiServer::new(cx.ui.as_ref());
        let hook = cx.hook.clone();
        let handler = |method: String, body: Value| {
            let ui = ui.clone();
            let hook = hook.clone();
            let hook_cancel = hook_cancel.clone();
            async move {
                if let Some(r) = ui_server.call(&method, &body).await {
                    return r;
                }
                match method.as_str() {
                    "Hook.Run" => {
                        let event = match body.get("Name").and_then(Value::as_str) {
                            Some("packer_provision") => HookEvent::Provision,
                            Some("packer_cleanup_provision") => HookEvent::CleanupProvision,
                            // Hooks kiln does not know have nothing registered.
                            _ => return Ok(Value::Nil),
                        };
                        let sid = body.get("StreamId").and_then(Value::as_u64).unwrap_or(0) as u32;
                        let stream = conn.broker.dial(sid).await.map_err(|e| {
                            format!("cannot open the plugin's communicator stream: {e}")
                        })?;
                        let comm = RemoteCommunicator {
                            client: RpcClient::new(stream),
                            broker: conn.broker.clone(),
                        };
                        let generated = generated_from(body.get("Data").unwrap_or(&Value::Nil));
                        hook.run(event, ui.as_ref(), &comm, &generated, &hook_cancel)
                            .await
                            .map(|()| Value::Nil)
                            .map_err(|e| e.to_string())
                    }
                    "Hook.Cancel" => {
                        hook_cancel.cancel();
                        Ok(Value::Nil)
                    }
                    _ => Err(format!("rpc: can't find method {method}")),
                }
            }
        };
        let reply = call_serving(
            conn,
            "Builder.Run",
            Value::UInt(id as u64),
            id,
            "Builder",
            &cx.cancel,
            handler,
            std::future::pending(),
        )
        .await
        .map_err(|e| build_error(e, &cx.cancel))?;
        match reply.as_u64().unwrap_or(0) {
            0 => Ok(None),
            aid => {
                let a = RemoteArtifact::fetch(conn.clone(), aid as u32)
                    .await
                    .map_err(|e| {
                        BuildError::Failed(format!(
                            "reading the artifact of plugin `{}`: {e}",
                            conn.name
                        ))
                    })?;
                Ok(Some(Arc::new(a)))
            }
        }
    }
}

// ------------------------------------------------------------ provisioner

go_factory!(
    /// A provisioner type served by a Go plugin.
    GoProvisionerFactory: ProvisionerFactory => Provisioner,
    "Provisioner.Prepare",
    |self, started, raw| configured(started, raw, |conn| {
        Box::new(GoProvisioner { conn }) as Box<dyn Provisioner>
    })
);

struct GoProvisioner {
    conn: Arc<PluginConn>,
}

#[async_trait]
impl Provisioner for GoProvisioner {
    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        communicator: &dyn Communicator,
    ) -> Result<(), BuildError> {
        let conn = &self.conn;
        let id = conn.broker.next_id();
        let ui = cx.ui;
        let ui_server = &UiServer::new(ui);
        let broker = &conn.broker;
        // Commands started for the plugin run here, after their `Start`
        // has replied (see `callbacks::serve_start`).
        let (deferred, mut started) = tokio::sync::mpsc::unbounded_channel::<DeferredWork<'_>>();
        let handler = |method: String, body: Value| {
            let deferred = deferred.clone();
            async move {
                if let Some(r) = ui_server.call(&method, &body).await {
                    return r;
                }
                if let Some(r) =
                    communicator_call(communicator, broker, &deferred, &method, &body).await
                {
                    return r;
                }
                Err(format!("rpc: can't find method {method}"))
            }
        };
        let run_started = async move {
            let mut running = FuturesUnordered::new();
            loop {
                tokio::select! {
                    w = started.recv() => match w {
                        Some(w) => running.push(w),
                        None => std::future::pending::<()>().await,
                    },
                    Some(r) = running.next(), if !running.is_empty() => {
                        if let Err(e) = r {
                            ui.error(&format!("a command the plugin started failed: {e}"));
                        }
                    }
                }
            }
        };
        let args = Value::map([
            ("GeneratedData", generated_value(cx.generated)),
            ("StreamID", Value::UInt(id as u64)),
        ]);
        call_serving(
            conn,
            "Provisioner.Provision",
            args,
            id,
            "Provisioner",
            &cx.cancel,
            handler,
            run_started,
        )
        .await
        .map(|_| ())
        .map_err(|e| build_error(e, &cx.cancel))
    }
}

// --------------------------------------------------------- post-processor

go_factory!(
    /// A post-processor type served by a Go plugin.
    GoPostProcessorFactory: PostProcessorFactory => PostProcessor,
    "PostProcessor.Configure",
    |self, started, raw| configured(started, raw, |conn| {
        Box::new(GoPostProcessor { conn }) as Box<dyn PostProcessor>
    })
);

struct GoPostProcessor {
    conn: Arc<PluginConn>,
}

#[async_trait]
impl PostProcessor for GoPostProcessor {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        let conn = &self.conn;
        let id = conn.broker.next_id();
        let ui_server = &UiServer::new(cx.ui);
        let artifact = input.as_ref();
        let handler = |method: String, body: Value| async move {
            if let Some(r) = ui_server.call(&method, &body).await {
                return r;
            }
            if let Some(r) = artifact_call(artifact, &method, &body).await {
                return r;
            }
            Err(format!("rpc: can't find method {method}"))
        };
        let reply = call_serving(
            conn,
            "PostProcessor.PostProcess",
            Value::UInt(id as u64),
            id,
            "PostProcessor",
            &cx.cancel,
            handler,
            std::future::pending(),
        )
        .await
        .map_err(|e| build_error(e, &cx.cancel))?;
        if let Some(m) = reply.get("Err").and_then(error_message) {
            return Err(BuildError::Failed(m));
        }
        let keep = reply.get("Keep").and_then(Value::as_bool).unwrap_or(false);
        let keep_input = if reply
            .get("ForceOverride")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            KeepInput::Force(keep)
        } else {
            KeepInput::Default(keep)
        };
        let artifact: Arc<dyn Artifact> =
            match reply.get("StreamId").and_then(Value::as_u64).unwrap_or(0) {
                0 => input.clone(),
                sid => Arc::new(
                    RemoteArtifact::fetch(conn.clone(), sid as u32)
                        .await
                        .map_err(|e| {
                            BuildError::Failed(format!(
                                "reading the artifact of plugin `{}`: {e}",
                                conn.name
                            ))
                        })?,
                ),
            };
        Ok(PostProcessed {
            artifact,
            keep_input,
        })
    }
}
