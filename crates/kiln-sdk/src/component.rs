//! The component contracts: builders, provisioners, post-processors, data
//! sources and the hook that connects a builder to its provisioners.
//!
//! Every component type has a factory whose `prepare` is pure: it decodes
//! and validates the config, collects every error, and returns the prepared
//! component. Effects happen only in `run` / `provision` / `post_process` /
//! `execute`. Calling `prepare` is not necessarily followed by a run
//! (`kiln validate`), except for data sources, which are read while the
//! template is evaluated.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::artifact::Artifact;
use crate::checkpoint::{CheckpointCleaner, Checkpoints, Effects};
use crate::communicator::Communicator;
use crate::config::{ConfigErrors, RawConfig};
use crate::interpolate;
use crate::record::BuildRecord;
use crate::step::OnError;
use crate::ui::{Redactor, Ui};

/// What `prepare` may look at. No I/O happens through it.
#[derive(Clone, Debug)]
pub struct PrepareContext {
    /// The build's name (builder `name`, or its type).
    pub build_name: String,
    /// The builder's type (`null`, `qemu`).
    pub builder_type: String,
    /// User variables, build name and type, template dir: for decoding.
    pub interpolation: interpolate::Context,
    /// Register secrets here so that no output shows them.
    pub redactor: Redactor,
    /// `-debug`.
    pub debug: bool,
    /// `-force`.
    pub force: bool,
    /// `-on-error`.
    pub on_error: OnError,
    /// The template's directory; relative paths resolve against the working
    /// directory, as in Packer, but some components need this.
    pub template_dir: PathBuf,
}

/// A prepared component, plus what `prepare` has to say.
pub struct Prepared<T> {
    /// The component, ready to run.
    pub component: T,
    /// Non-fatal remarks, shown by `validate` and `build`.
    pub warnings: Vec<String>,
    /// For builders: the generated data keys it will provide
    /// (`{{ build `Key` }}`).
    pub generated: Vec<String>,
}

impl<T> Prepared<T> {
    /// A prepared component with no warnings.
    pub fn new(component: T) -> Self {
        Prepared {
            component,
            warnings: Vec::new(),
            generated: Vec::new(),
        }
    }
}

/// Why a build, provisioner or post-processor failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The build was cancelled (Ctrl-C).
    #[error("build was cancelled")]
    Cancelled,
    /// It failed.
    #[error("{0}")]
    Failed(String),
}

impl BuildError {
    /// A failure with this message.
    pub fn msg(message: impl std::fmt::Display) -> Self {
        BuildError::Failed(message.to_string())
    }
}

/// Data a builder generates for provisioners (`Host`, `Port`, `ID`…).
pub type GeneratedData = Arc<BTreeMap<String, String>>;

/// The events a builder fires through its [`Hook`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookEvent {
    /// Run the build's provisioners.
    Provision,
    /// Run the `error-cleanup-provisioner` after a failure.
    CleanupProvision,
}

/// How a builder runs the provisioners: the core implements it.
#[async_trait]
pub trait Hook: Send + Sync {
    /// Runs everything registered for `event`, over `communicator`.
    async fn run(
        &self,
        event: HookEvent,
        ui: &dyn Ui,
        communicator: &dyn Communicator,
        generated: &GeneratedData,
        cancel: &CancellationToken,
    ) -> Result<(), BuildError>;
}

/// What a builder's run can use.
pub struct BuildContext<'a> {
    /// The build's UI (already prefixed with the build name).
    pub ui: Arc<dyn Ui>,
    /// Runs the provisioners.
    pub hook: Arc<dyn Hook>,
    /// Cancelled on Ctrl-C.
    pub cancel: CancellationToken,
    /// `-on-error`.
    pub on_error: OnError,
    /// `-debug`: pause between steps.
    pub debug: bool,
    /// `-force`.
    pub force: bool,
    /// This run's id (`PACKER_RUN_UUID`).
    pub run_uuid: &'a str,
    /// The build's record (the builder sets the source image).
    pub record: Arc<BuildRecord>,
    /// The build's checkpoints (`-incremental`); `None` in a plain build
    /// and when booting an artifact. See [`crate::checkpoint`].
    pub checkpoints: Option<Arc<dyn Checkpoints>>,
}

/// Declares one builder type; its `prepare` is pure.
pub trait BuilderFactory: Send + Sync {
    /// The template name (`null`, `qemu`).
    fn name(&self) -> &'static str;
    /// Decodes and validates; reports every problem at once.
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Builder>>, ConfigErrors>;

    /// Checks and removes what this builder's checkpoints keep outside the
    /// cache directory; `None` when they keep nothing there.
    fn checkpoint_cleaner(&self) -> Option<Arc<dyn CheckpointCleaner>> {
        None
    }
}

/// A prepared builder.
#[async_trait]
pub trait Builder: Send + Sync {
    /// Creates the machine, runs the provision hook, captures the artifact.
    /// `Ok(None)` means the build produced nothing.
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError>;

    /// Starts a fresh machine from `artifact`, an artifact this builder
    /// made, with the build's communicator settings; fires
    /// [`HookEvent::Provision`] on `cx.hook` once it answers; then stops and
    /// removes the machine, whatever happened. The artifact itself is left
    /// unchanged (a disk is booted through a temporary overlay). The `test`
    /// post-processor runs its checks this way. `Ok(false)` means this
    /// builder cannot boot its artifacts.
    async fn boot(
        &self,
        _cx: BuildContext<'_>,
        _artifact: Arc<dyn Artifact>,
    ) -> Result<bool, BuildError> {
        Ok(false)
    }
}

/// What a provisioner's run can use.
pub struct ProvisionContext<'a> {
    /// The build's UI.
    pub ui: &'a dyn Ui,
    /// Cancelled on Ctrl-C or when the provisioner's `timeout` passes.
    pub cancel: CancellationToken,
    /// Interpolation context, with the builder's generated data known.
    pub interpolation: &'a interpolate::Context,
    /// The builder's generated data.
    pub generated: &'a GeneratedData,
    /// `-debug`.
    pub debug: bool,
    /// The build's record (files attached to the artifact).
    pub record: &'a BuildRecord,
}

/// Declares one provisioner type; its `prepare` is pure.
pub trait ProvisionerFactory: Send + Sync {
    /// The template name (`shell-local`).
    fn name(&self) -> &'static str;
    /// Decodes and validates; reports every problem at once.
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors>;
}

/// A prepared provisioner.
#[async_trait]
pub trait Provisioner: Send + Sync {
    /// Configures the machine through `communicator`.
    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        communicator: &dyn Communicator,
    ) -> Result<(), BuildError>;

    /// Whose state it changes; a checkpoint is saved only after a
    /// provisioner that changes the machine's.
    fn effects(&self) -> Effects {
        Effects::Machine
    }
}

/// Whether the input artifact of a post-processor is kept. Replaces Go's
/// `(keep bool, forceOverride bool)` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepInput {
    /// The post-processor's default; `keep_input_artifact` may override it.
    Default(bool),
    /// The post-processor insists; `keep_input_artifact: false` is ignored
    /// with a message.
    Force(bool),
}

/// The result of a post-processor.
pub struct PostProcessed {
    /// The new artifact (may be the input itself).
    pub artifact: Arc<dyn Artifact>,
    /// Whether to keep the input.
    pub keep_input: KeepInput,
}

/// What a post-processor's run can use.
pub struct PostProcessContext<'a> {
    /// The build's UI.
    pub ui: &'a dyn Ui,
    /// Cancelled on Ctrl-C.
    pub cancel: CancellationToken,
    /// The build's name.
    pub build_name: &'a str,
    /// The builder's type.
    pub builder_type: &'a str,
    /// This run's id (`PACKER_RUN_UUID`).
    pub run_uuid: &'a str,
    /// Interpolation context for the post-processor's own templates.
    pub interpolation: &'a interpolate::Context,
    /// The build's record: attachments, image tests, soft failures.
    pub record: &'a BuildRecord,
    /// The build's builder, to boot its artifact again
    /// ([`Builder::boot`]); `None` outside a build (plugins, unit tests).
    pub builder: Option<&'a dyn Builder>,
    /// `-on-error`, `-debug` and `-force`, for a machine booted by a
    /// post-processor.
    pub options: BuildOptions,
}

/// The build's `-on-error`, `-debug` and `-force`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions {
    /// `-on-error`.
    pub on_error: OnError,
    /// `-debug`.
    pub debug: bool,
    /// `-force`.
    pub force: bool,
}

/// Declares one post-processor type; its `prepare` is pure.
pub trait PostProcessorFactory: Send + Sync {
    /// The template name (`manifest`).
    fn name(&self) -> &'static str;
    /// Decodes and validates; reports every problem at once.
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors>;
}

/// A prepared post-processor.
#[async_trait]
pub trait PostProcessor: Send + Sync {
    /// Turns `input` into a new artifact.
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError>;
}

/// What a data source's `execute` can use.
pub struct DataSourceContext {
    /// Cancelled when kiln stops evaluating the template.
    pub cancel: CancellationToken,
}

/// Declares one data source type: an HCL2 `data "TYPE" "NAME" { … }` block,
/// read while the template is evaluated, whose outputs the template uses as
/// `data.TYPE.NAME.KEY` (in locals, sources, provisioners…). Its `prepare`
/// is pure, like the other factories': it decodes the typed config and
/// reports every problem at once. The [`PrepareContext`] a data source gets
/// names the block (`data.TYPE.NAME`) in `build_name`, for messages, and
/// has an empty `builder_type`: data sources are read before any build
/// exists. Built-in and plugin data sources alike are found by name in the
/// [`Registry`](crate::Registry).
pub trait DataSourceFactory: Send + Sync {
    /// The template name (`amazon-ami`).
    fn name(&self) -> &'static str;
    /// Decodes and validates; reports every problem at once.
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn DataSource>>, ConfigErrors>;
}

/// A prepared data source.
#[async_trait]
pub trait DataSource: Send + Sync {
    /// Reads the data (the effects happen here: files, HTTP, cloud APIs).
    /// Returns a JSON object whose keys are the data source's outputs;
    /// a data source keeps no state and needs no cleanup.
    /// A failure's message may end with `\n  hint: …` (as a
    /// [`ConfigError`](crate::ConfigError) with a hint displays): kiln
    /// shows that part as the error's hint.
    async fn execute(&self, cx: DataSourceContext) -> Result<serde_json::Value, BuildError>;
}
