//! The `file` builder (Packer's `builder/file`): writes `content` to
//! `target`, or copies `source` to it, runs the provisioners with no
//! communicator, and returns the file as the artifact. Mostly for tests and
//! for chaining post-processors.

mod config;
mod step_write_file;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::artifact::FileArtifact;
use kiln_sdk::communicator::{Communicator, NoCommunicator};
use kiln_sdk::component::{BuildContext, BuildError, GeneratedData};
use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_sdk::step::Runner;
use kiln_sdk::steps::{HasCommunicator, StepProvision};
use kiln_sdk::{Artifact, Builder, BuilderFactory, PrepareContext, Prepared};

pub use config::{Config, Content};

/// Packer's builder id for the file builder.
pub const BUILDER_ID: &str = "packer.file";

/// Registers the `file` builder type.
pub struct FileBuilderFactory;

impl BuilderFactory for FileBuilderFactory {
    fn name(&self) -> &'static str {
        "file"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Builder>>, ConfigErrors> {
        let config = config::prepare(raw, cx)?;
        Ok(Prepared::new(Box::new(FileBuilder {
            config,
            force: cx.force,
        }) as Box<dyn Builder>))
    }
}

/// A prepared file builder.
pub struct FileBuilder {
    config: Config,
    force: bool,
}

/// The file builder's step state.
#[derive(Default)]
pub struct FileState {
    /// The file this build created (set before writing, for cleanup).
    pub created: Option<PathBuf>,
}

impl HasCommunicator for FileState {
    fn communicator(&self) -> Arc<dyn Communicator> {
        Arc::new(NoCommunicator)
    }
    fn generated(&self) -> GeneratedData {
        Arc::new(BTreeMap::new())
    }
}

#[async_trait]
impl Builder for FileBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let mut state = FileState::default();
        let runner = Runner::new(vec![
            Box::new(step_write_file::StepWriteFile::new(
                self.config.clone(),
                self.force,
            )),
            Box::new(StepProvision::new(cx.hook.clone(), cx.on_error)),
        ])
        .on_error(cx.on_error)
        .debug(cx.debug);
        runner.run(cx.ui.as_ref(), &cx.cancel, &mut state).await?;
        let target = self.config.target.display().to_string();
        Ok(Some(Arc::new(FileArtifact {
            builder_id: BUILDER_ID.into(),
            id: "File".into(),
            files: vec![self.config.target.clone()],
            description: format!("Stored file: {target}"),
        })))
    }
}
