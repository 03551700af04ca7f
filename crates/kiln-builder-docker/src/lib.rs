//! The `docker` builder (Packer's `builder/docker`) and the docker
//! communicator, driving the Docker engine through its API with bollard
//! (`DOCKER_HOST` is honoured) instead of the `docker` CLI.
//!
//! A build is a list of steps over a typed [`DockerState`]: a shared host
//! directory, the base image, the build container, the communicator, the
//! provisioners, then a commit, an export or nothing. State holds the
//! engine handle and every resource the steps created (temporary directory,
//! container, image, export file); cleanup runs in reverse order and always
//! removes the container, and on failure or Ctrl-C also the committed image
//! and the partial export.

mod artifact;
pub mod checkpoint;
pub mod cleanup;
pub mod client;
pub mod communicator;
mod config;
pub mod run_command;
mod step_checkpoint_attach;
mod step_checkpoint_plan;
mod step_commit;
mod step_connect;
mod step_export;
mod step_pull;
mod step_run_container;
mod step_temp_dir;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bollard::Docker;
use kiln_sdk::communicator::{Communicator, NoCommunicator};
use kiln_sdk::component::{BuildContext, BuildError, GeneratedData};
use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_sdk::generated;
use kiln_sdk::step::{Runner, Step};
use kiln_sdk::steps::{HasCommunicator, StepProvision};
use kiln_sdk::{Artifact, Builder, BuilderFactory, PrepareContext, Prepared};
use tokio::task::JoinHandle;

pub use artifact::{ExportArtifact, ImageArtifact, BUILDER_ID, BUILDER_ID_IMPORT};
pub use client::{connect, DockerError};
pub use communicator::DockerCommunicator;
pub use config::{Config, Login, Output, Pull, UploadOwner};
pub use step_pull::split_reference;

/// Registers the `docker` builder type.
pub struct DockerBuilderFactory;

impl BuilderFactory for DockerBuilderFactory {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Builder>>, ConfigErrors> {
        let config = config::prepare(raw, cx)?;
        let mut p = Prepared::new(Box::new(DockerBuilder {
            config,
            build_name: cx.build_name.clone(),
        }) as Box<dyn Builder>);
        p.generated = vec!["ImageSha256".into()];
        Ok(p)
    }

    fn checkpoint_cleaner(&self) -> Option<Arc<dyn kiln_sdk::checkpoint::CheckpointCleaner>> {
        Some(Arc::new(checkpoint::DockerCleaner))
    }
}

/// A prepared docker builder.
pub struct DockerBuilder {
    config: Config,
    /// For the container's `kiln.build` label.
    build_name: String,
}

impl DockerBuilder {
    /// The validated config.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// The docker builder's step state. Each field is set by one step, before
/// the call that may fail after creating the resource it names.
pub struct DockerState {
    /// The engine.
    pub docker: Docker,
    /// The host directory mounted at `container_dir` (`StepTempDir`).
    pub temp_dir: Option<tempfile::TempDir>,
    /// A container creation still in flight (`StepRunContainer`).
    pub pending_create: Option<JoinHandle<Result<String, DockerError>>>,
    /// The build container's id (`StepRunContainer`).
    pub container: Option<String>,
    /// The communicator (`StepConnect`).
    pub communicator: Option<Arc<DockerCommunicator>>,
    /// Generated data (`ImageSha256` after the commit).
    pub generated: BTreeMap<String, String>,
    /// A commit still in flight (`StepCommit`).
    pub pending_commit: Option<JoinHandle<Result<String, DockerError>>>,
    /// The committed image (`StepCommit`).
    pub image_id: Option<String>,
    /// The export file being written (`StepExport`).
    pub export_file: Option<PathBuf>,
    /// The base image as resolved (`name@sha256:…`), for the build record
    /// (`StepPull`).
    pub source_image: Option<String>,
    /// The base image's ID (`StepCheckpointPlan`).
    pub base_image_id: Option<String>,
    /// The checkpoint image the container starts from instead of the base
    /// image (`StepCheckpointPlan`).
    pub restore_image: Option<String>,
}

impl DockerState {
    /// A fresh state over `docker`.
    pub fn new(docker: Docker) -> Self {
        DockerState {
            docker,
            temp_dir: None,
            pending_create: None,
            container: None,
            communicator: None,
            generated: BTreeMap::new(),
            pending_commit: None,
            image_id: None,
            export_file: None,
            source_image: None,
            base_image_id: None,
            restore_image: None,
        }
    }
}

impl HasCommunicator for DockerState {
    fn communicator(&self) -> Arc<dyn Communicator> {
        match &self.communicator {
            Some(c) => c.clone(),
            None => Arc::new(NoCommunicator),
        }
    }
    fn generated(&self) -> GeneratedData {
        Arc::new(self.generated.clone())
    }
}

impl DockerBuilder {
    /// The engine connection and the state every run starts from.
    async fn start(&self, cx: &BuildContext<'_>) -> Result<DockerState, BuildError> {
        let docker = client::connect().await.map_err(BuildError::msg)?;
        let mut state = DockerState::new(docker);
        state
            .generated
            .insert(generated::PACKER_RUN_UUID.into(), cx.run_uuid.to_string());
        state
            .generated
            .insert(generated::CONN_TYPE.into(), "docker".into());
        Ok(state)
    }

    /// The steps up to provisioning: temporary directory, `pull` (a build's;
    /// a boot has none), the container from `run` (with the run labels
    /// added, so `kiln cleanup -run` finds it after a SIGKILL; `display`,
    /// what the UI shows, is left as written), connect, provision.
    fn machine_steps(
        &self,
        cx: &BuildContext<'_>,
        pull: Option<Box<dyn Step<DockerState>>>,
        mut run: run_command::RunSpec,
        display: Vec<String>,
    ) -> Vec<Box<dyn Step<DockerState>>> {
        let c = &self.config;
        let labels = kiln_sdk::run_tags::RunTags::new(cx.run_uuid, &self.build_name).labels();
        run.labels
            .retain(|(k, _)| !labels.iter().any(|(l, _)| l == k));
        run.labels.extend(labels);
        let mut steps: Vec<Box<dyn Step<DockerState>>> = vec![Box::new(step_temp_dir::StepTempDir)];
        steps.extend(pull);
        if let Some(cp) = &cx.checkpoints {
            steps.push(Box::new(step_checkpoint_plan::StepCheckpointPlan::new(
                c.clone(),
                cp.clone(),
            )));
        }
        steps.push(Box::new(step_run_container::StepRunContainer::new(
            run,
            display,
            c.container_dir.clone(),
        )));
        // Packer's StepConnect does nothing for `communicator: none`.
        if c.communicator == config::Communicator::Docker {
            steps.push(Box::new(step_connect::StepConnect::new(
                c.exec_user.clone(),
                c.upload_owner,
            )));
        }
        if let Some(cp) = &cx.checkpoints {
            steps.push(Box::new(step_checkpoint_attach::StepCheckpointAttach::new(
                cp.clone(),
            )));
        }
        steps.push(Box::new(StepProvision::new(cx.hook.clone(), cx.on_error)));
        steps
    }
}

#[async_trait]
impl Builder for DockerBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let mut state = self.start(&cx).await?;
        let c = &self.config;
        let pull = step_pull::StepPull::new(
            c.image.clone(),
            c.pull,
            c.login.clone(),
            c.run.platform.clone(),
        );
        let mut steps = self.machine_steps(
            &cx,
            Some(Box::new(pull)),
            c.run.clone(),
            c.run_display.clone(),
        );
        match &c.output {
            Output::Commit {
                author,
                message,
                changes,
            } => steps.push(Box::new(step_commit::StepCommit::new(
                author.clone(),
                message.clone(),
                changes.clone(),
                cx.debug,
            ))),
            Output::Export { path } => {
                steps.push(Box::new(step_export::StepExport::new(path.clone())))
            }
            Output::Discard => {}
        }
        let runner = Runner::new(steps).on_error(cx.on_error).debug(cx.debug);
        let result = runner.run(cx.ui.as_ref(), &cx.cancel, &mut state).await;
        if let Some(source) = state.source_image.take() {
            cx.record.set_source_image(source);
        }
        result?;
        let artifact: Arc<dyn Artifact> = match &c.output {
            Output::Commit { .. } => Arc::new(ImageArtifact {
                builder_id: BUILDER_ID_IMPORT.into(),
                id: state.image_id.clone().unwrap_or_default(),
                tags: Vec::new(),
                generated: state.generated.clone(),
            }),
            Output::Export { path } => Arc::new(ExportArtifact { path: path.clone() }),
            // Packer returns an export artifact with an empty path here.
            Output::Discard => Arc::new(ExportArtifact {
                path: PathBuf::new(),
            }),
        };
        Ok(Some(artifact))
    }

    /// Runs a container from the committed image with the build's
    /// `run_command` options and communicator, fires the hook, and removes
    /// the container (the build's own steps, without pull and commit).
    async fn boot(
        &self,
        cx: BuildContext<'_>,
        artifact: Arc<dyn Artifact>,
    ) -> Result<bool, BuildError> {
        if artifact.builder_id() != BUILDER_ID_IMPORT || artifact.id().is_empty() {
            return Err(BuildError::msg(format!(
                "the docker builder can boot only the image it committed (`commit`), not artifact `{}` of `{}`",
                artifact.id(),
                artifact.builder_id()
            )));
        }
        let mut state = self.start(&cx).await?;
        let c = &self.config;
        let image = artifact.id();
        let mut run = c.run.clone();
        run.image = image.clone();
        // A second container must not clash with a `--name` of the build.
        run.name = None;
        let display: Vec<String> = c
            .run_display
            .iter()
            .map(|a| {
                if *a == c.image {
                    image.clone()
                } else {
                    a.clone()
                }
            })
            .collect();
        let steps = self.machine_steps(&cx, None, run, display);
        let runner = Runner::new(steps).on_error(cx.on_error).debug(cx.debug);
        runner.run(cx.ui.as_ref(), &cx.cancel, &mut state).await?;
        Ok(true)
    }
}
