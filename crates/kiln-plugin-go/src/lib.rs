//! kiln-plugin-go: runs HashiCorp Packer's Go plugins unmodified, behind
//! kiln's component traits.
//!
//! A [`GoPluginCommand`] says how to start a plugin process: a Packer 1.6.6
//! single-component binary (`packer-builder-null`, or `packer plugin
//! packer-builder-null`), or a multi-component SDK plugin
//! (`packer-plugin-NAME start builder TYPE`). The factories below speak
//! Packer's plugin RPC to it and look like any built-in component to the
//! engine, so Go and kiln components mix in one build: a Go builder runs
//! kiln's provisioners through the hook (kiln serves `Hook`, the plugin
//! serves its communicator back), and a Go provisioner runs over kiln's
//! communicator (kiln serves `Communicator`).
//!
//! The layers, bottom up: [`plugin`] (process, handshake), [`yamux`],
//! [`broker`] (Packer's stream-id broker), [`rpc`] (net/rpc + [`msgpack`]),
//! [`gob`] (the exit-status message), [`callbacks`] (Ui, Hook,
//! Communicator, Artifact services), [`cty`] (HCL2 configs as cty JSON,
//! see [`ConfigEncoding`]) and the components. `KILN_GO_TRACE=1` prints a
//! timestamped trace of the wire traffic to stderr. Plugin I/O runs on
//! a small runtime of its own, so `prepare` (synchronous, called before
//! kiln's runtime exists) can start plugins and keep them for the run.

pub mod broker;
pub mod callbacks;
mod components;
pub mod cty;
pub mod describe;
pub mod gob;
pub mod msgpack;
pub mod plugin;
pub mod rpc;
pub mod yamux;

use std::path::PathBuf;
use std::sync::OnceLock;

use kiln_sdk::{BuilderFactory, PostProcessorFactory, ProvisionerFactory};

pub use components::{
    ConfigEncoding, GoBuilderFactory, GoPostProcessorFactory, GoProvisionerFactory,
};
pub use describe::{describe, Component, ComponentKind, Description};

/// How to start one plugin component's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoPluginCommand {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments (e.g. `["plugin", "packer-builder-null"]`, or
    /// `["start", "builder", "TYPE"]`).
    pub args: Vec<String>,
}

impl GoPluginCommand {
    /// A Packer ≤ 1.10 binary serving one of its built-in components:
    /// `packer plugin packer-KIND-NAME`.
    pub fn packer_builtin(packer: impl Into<PathBuf>, kind: ComponentKind, name: &str) -> Self {
        GoPluginCommand {
            program: packer.into(),
            args: vec!["plugin".into(), format!("packer-{}-{name}", kind.as_str())],
        }
    }

    /// A single-component binary (`packer-builder-NAME`), run with no
    /// arguments.
    pub fn single(program: impl Into<PathBuf>) -> Self {
        GoPluginCommand {
            program: program.into(),
            args: Vec::new(),
        }
    }

    /// One component of a multi-component SDK plugin:
    /// `packer-plugin-NAME start KIND TYPE` (`TYPE` is the name `describe`
    /// lists, e.g. `-packer-default-plugin-name-`).
    pub fn sdk(program: impl Into<PathBuf>, kind: ComponentKind, component: &str) -> Self {
        GoPluginCommand {
            program: program.into(),
            args: vec!["start".into(), kind.as_str().into(), component.into()],
        }
    }

    /// A short name for messages: the program's file name, or for
    /// `packer plugin X`, `X`.
    pub fn display_name(&self) -> String {
        let prog = self
            .program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.program.display().to_string());
        match self.args.as_slice() {
            [p, x] if p == "plugin" => x.clone(),
            [s, kind, name] if s == "start" => format!("{prog} ({kind} {name})"),
            _ => prog,
        }
    }
}

/// What went wrong talking to a plugin. Messages name the plugin.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GoPluginError {
    /// The process could not be started.
    #[error("cannot start plugin `{plugin}` (`{program}`): {message}")]
    Start {
        /// The plugin.
        plugin: String,
        /// The executable.
        program: String,
        /// The OS error.
        message: String,
    },
    /// The plugin does not speak the protocol kiln speaks.
    #[error("plugin `{plugin}` is not compatible with kiln: {detail}")]
    Protocol {
        /// The plugin.
        plugin: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The plugin process went away.
    #[error("plugin `{plugin}` exited unexpectedly {when} ({status}){}", stderr_suffix(.stderr))]
    Exited {
        /// The plugin.
        plugin: String,
        /// When (`during \`Builder.Run\``).
        when: String,
        /// How it ended.
        status: String,
        /// Its last stderr lines.
        stderr: String,
    },
    /// The plugin's method returned an error (shown as is: it is the
    /// component's own message).
    #[error("{0}")]
    Remote(String),
    /// `describe` failed.
    #[error("cannot describe plugin `{plugin}`: {message}")]
    Describe {
        /// The plugin.
        plugin: String,
        /// Why.
        message: String,
    },
}

fn stderr_suffix(s: &str) -> String {
    if s.trim().is_empty() {
        String::new()
    } else {
        format!("; its last output was:\n{}", s.trim_end())
    }
}

/// Whether `KILN_GO_TRACE` is set (non-empty, not `0`): the bridge then
/// prints a timestamped line to stderr for each RPC call and reply, broker
/// stream, yamux FIN/RST and communicator step, to see where time goes.
pub fn trace_enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("KILN_GO_TRACE").is_ok_and(|v| !v.is_empty() && v != "0"))
}

/// Prints one trace line (see [`trace_enabled`]), stamped with the time
/// since the bridge first traced.
#[doc(hidden)]
pub fn trace_line(args: std::fmt::Arguments<'_>) {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    let t = START.get_or_init(std::time::Instant::now).elapsed();
    kiln_sdk::ui::diagnostic(&format!(
        "[kiln-go {:>4}.{:03}s] {args}",
        t.as_secs(),
        t.subsec_millis()
    ));
}

/// `trace!("…", args)`: a [`trace_line`] when tracing is on; the
/// arguments are not evaluated otherwise.
macro_rules! trace {
    ($($a:tt)*) => {
        if $crate::trace_enabled() {
            $crate::trace_line(format_args!($($a)*))
        }
    };
}
pub(crate) use trace;

/// The runtime plugin I/O runs on (two worker threads, created on first
/// use). Plugin connections outlive any one caller's runtime: `prepare`
/// runs before kiln's runtime exists, `run` happens inside it.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kiln-plugin-go")
            .enable_all()
            .build()
            .expect("cannot create the Go plugin bridge's runtime")
    })
}

/// Runs `f` on the bridge runtime and blocks the calling thread until it
/// is done. Works from plain threads and from inside another runtime.
pub(crate) fn block_on_bridge<F>(f: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    runtime().spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().expect("the Go plugin bridge's runtime stopped")
}

fn leak(name: &str) -> &'static str {
    Box::leak(name.to_string().into_boxed_str())
}

/// A builder type served by a Go plugin, registered as `type_name`.
pub fn builder_factory(type_name: &str, cmd: GoPluginCommand) -> Box<dyn BuilderFactory> {
    Box::new(GoBuilderFactory::new(type_name, cmd))
}

/// A provisioner type served by a Go plugin, registered as `type_name`.
pub fn provisioner_factory(type_name: &str, cmd: GoPluginCommand) -> Box<dyn ProvisionerFactory> {
    Box::new(GoProvisionerFactory::new(type_name, cmd))
}

/// A post-processor type served by a Go plugin, registered as `type_name`.
pub fn post_processor_factory(
    type_name: &str,
    cmd: GoPluginCommand,
) -> Box<dyn PostProcessorFactory> {
    Box::new(GoPostProcessorFactory::new(type_name, cmd))
}
