//! The `example-dir` builder: its "machine" is a directory on this
//! machine. Steps: create the directory (removed again when the build
//! fails or is cancelled), optionally wait (to show cancellation reaching
//! a plugin), then run the provisioners over a [`LocalCommunicator`]. The
//! artifact is the directory's files.

mod step_create_dir;
mod step_wait;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::artifact::FileArtifact;
use kiln_sdk::communicator::Communicator;
use kiln_sdk::component::{BuildContext, BuildError, GeneratedData};
use kiln_sdk::config::{decode, ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::step::Runner;
use kiln_sdk::steps::{HasCommunicator, StepProvision};
use kiln_sdk::{Artifact, Builder, BuilderFactory, PrepareContext, Prepared};
use serde::Deserialize;

/// The builder id of its artifacts.
pub const BUILDER_ID: &str = "kiln.example-dir";

/// The raw config.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Raw {
    output_dir: String,
    wait: Option<String>,
}

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The directory to create.
    pub output_dir: PathBuf,
    /// How long to wait before provisioning.
    pub wait: Option<Duration>,
}

/// Registers `example-dir`.
pub struct DirBuilderFactory;

impl BuilderFactory for DirBuilderFactory {
    fn name(&self) -> &'static str {
        "example-dir"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Builder>>, ConfigErrors> {
        let r: Raw = decode(raw, &crate::decode_options(cx))?;
        let mut errors = ConfigErrors::new();
        if r.output_dir.is_empty() {
            errors.push(ConfigError::at("output_dir", "`output_dir` must be set"));
        }
        let wait = match r.wait.as_deref().map(kiln_sdk::duration::parse_go_duration) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                errors.push(ConfigError::at("wait", e));
                None
            }
        };
        let config = Config {
            output_dir: PathBuf::from(r.output_dir),
            wait,
        };
        let mut p = errors.locate(raw).into_result(Prepared::new(
            Box::new(DirBuilder { config }) as Box<dyn Builder>,
        ))?;
        p.generated = vec!["OutputDir".into()];
        Ok(p)
    }
}

/// A prepared `example-dir` builder.
pub struct DirBuilder {
    config: Config,
}

/// The steps' shared state.
pub struct DirState {
    /// The directory, once created (cleanup removes it on failure).
    pub created: Option<PathBuf>,
    /// The communicator into it.
    pub communicator: Option<Arc<dyn Communicator>>,
}

impl HasCommunicator for DirState {
    fn communicator(&self) -> Arc<dyn Communicator> {
        self.communicator
            .clone()
            .unwrap_or_else(|| Arc::new(kiln_sdk::communicator::NoCommunicator))
    }
    fn generated(&self) -> GeneratedData {
        let dir = self
            .created
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        Arc::new(BTreeMap::from([("OutputDir".to_string(), dir)]))
    }
}

#[async_trait]
impl Builder for DirBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let mut state = DirState {
            created: None,
            communicator: None,
        };
        let runner = Runner::new(vec![
            Box::new(step_create_dir::StepCreateDir::new(
                &self.config.output_dir,
                cx.force,
            )),
            Box::new(step_wait::StepWait::new(self.config.wait)),
            Box::new(StepProvision::new(cx.hook.clone(), cx.on_error)),
        ])
        .on_error(cx.on_error)
        .debug(cx.debug);
        runner.run(cx.ui.as_ref(), &cx.cancel, &mut state).await?;
        let dir = &self.config.output_dir;
        let mut files = Vec::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.path().is_file() {
                    files.push(e.path());
                }
            }
        }
        files.sort();
        Ok(Some(Arc::new(FileArtifact {
            builder_id: BUILDER_ID.into(),
            id: dir.display().to_string(),
            description: format!("Directory: {}", dir.display()),
            files,
        })))
    }
}
