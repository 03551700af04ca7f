//! Test support: a registry of kiln's built-ins plus Debian packer 1.6.6's
//! own components served as Go plugins (`packer plugin packer-KIND-NAME`,
//! registered as `go-NAME`), and a runner that loads a template, prepares
//! and runs it through kiln-core the way `kiln build` does, capturing the
//! output.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kiln_core::ui::{Output, OutputMode, SharedBuffer};
use kiln_core::{Registry, RunSummary};
use kiln_plugin_go::{
    builder_factory, post_processor_factory, provisioner_factory, ComponentKind, GoPluginCommand,
};
use kiln_sdk::ui::Redactor;
use tokio_util::sync::CancellationToken;

/// Debian's packer 1.6.6.
pub const PACKER: &str = "/usr/bin/packer";

/// Fails clearly when packer is missing.
pub fn require_packer() {
    assert!(
        Path::new(PACKER).exists(),
        "`{PACKER}` is missing: the Go plugin tests need Debian's packer 1.6.6; run scripts/install-deps.sh"
    );
}

/// `packer plugin packer-KIND-NAME`.
pub fn packer(kind: ComponentKind, name: &str) -> GoPluginCommand {
    GoPluginCommand::packer_builtin(PACKER, kind, name)
}

/// Built-ins plus packer's components as `go-NAME`.
pub fn registry() -> Registry {
    require_packer();
    let mut r = kiln_registry::builtin();
    for b in ["null", "file", "docker", "qemu"] {
        r.builders.push(builder_factory(
            &format!("go-{b}"),
            packer(ComponentKind::Builder, b),
        ));
    }
    for p in ["shell", "file", "shell-local"] {
        r.provisioners.push(provisioner_factory(
            &format!("go-{p}"),
            packer(ComponentKind::Provisioner, p),
        ));
    }
    for p in ["checksum", "compress"] {
        r.post_processors.push(post_processor_factory(
            &format!("go-{p}"),
            packer(ComponentKind::PostProcessor, p),
        ));
    }
    r
}

/// What a run did.
pub struct Outcome {
    /// The engine's summary.
    pub summary: RunSummary,
    /// Everything printed to stdout.
    pub stdout: String,
    /// Everything printed to stderr.
    pub stderr: String,
}

impl Outcome {
    /// stdout and stderr together.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
    /// The first build's error.
    pub fn error(&self) -> Option<&str> {
        self.summary.builds.first().and_then(|b| b.error.as_deref())
    }
}

/// Writes `template` to `dir/template.json`.
pub fn write_template(dir: &Path, template: &serde_json::Value) -> PathBuf {
    let path = dir.join("template.json");
    std::fs::write(&path, serde_json::to_string_pretty(template).unwrap()).unwrap();
    path
}

/// Loads and prepares a template with `registry`; `Err` is the rendered
/// config errors.
pub fn prepare(
    registry: &Registry,
    dir: &Path,
    template: &serde_json::Value,
) -> Result<Vec<kiln_core::PreparedBuild>, String> {
    let path = write_template(dir, template);
    let (t, mut errors) = kiln_template::legacy::load_partial(&path).map_err(|e| e.to_string())?;
    let (plan, plan_errors) = kiln_template::plan_partial(
        &t,
        &Default::default(),
        &Default::default(),
        Default::default(),
    );
    errors.0.extend(plan_errors.0);
    if !errors.is_empty() {
        return Err(errors.to_string());
    }
    kiln_core::prepare(&plan, registry, &options(), &Redactor::new()).map_err(|e| e.to_string())
}

/// Writes `text` to `dir/template.pkr.hcl`, loads it as kiln's HCL2 path
/// does (`kiln build x.pkr.hcl`) and prepares it with `registry`; `Err` is
/// the rendered config errors.
pub fn prepare_hcl(
    registry: &Registry,
    dir: &Path,
    text: &str,
) -> Result<Vec<kiln_core::PreparedBuild>, String> {
    let path = dir.join("template.pkr.hcl");
    std::fs::write(&path, text).unwrap();
    let (plan, errors) =
        kiln_template::hcl::load_hcl(&path, &Default::default(), &Default::default());
    if !errors.is_empty() {
        return Err(errors.to_string());
    }
    kiln_core::prepare(&plan, registry, &options(), &Redactor::new()).map_err(|e| e.to_string())
}

fn options() -> kiln_core::Options {
    kiln_core::Options {
        parallel_builds: 0,
        run_uuid: "6c1f5d6e-0000-4000-8000-000000000001".into(),
        ..Default::default()
    }
}

/// Runs prepared builds on a fresh runtime, like `kiln build`.
pub fn run(builds: Vec<kiln_core::PreparedBuild>) -> Outcome {
    let out = SharedBuffer::default();
    let err = SharedBuffer::default();
    let output = std::sync::Arc::new(Output::new(
        OutputMode::Human {
            color: false,
            timestamp: false,
        },
        Redactor::new(),
        Box::new(out.clone()),
        Box::new(err.clone()),
        Box::new(std::io::BufReader::new(std::io::empty())),
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let summary = rt.block_on(kiln_core::run(
        builds,
        output,
        options(),
        CancellationToken::new(),
    ));
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    Outcome {
        summary,
        stdout: out.text(),
        stderr: err.text(),
    }
}

/// Prepares and runs `template` with the Go-plugin registry; panics on
/// config errors.
pub fn build(dir: &Path, template: &serde_json::Value) -> Outcome {
    let r = registry();
    let builds = prepare(&r, dir, template).unwrap_or_else(|e| panic!("config errors:\n{e}"));
    run(builds)
}
