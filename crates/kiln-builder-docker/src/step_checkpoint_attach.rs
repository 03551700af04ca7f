//! In an `-incremental` build: once the container runs, gives the core the
//! way to save it as a checkpoint after each provisioner
//! ([`crate::checkpoint::DockerSaver`]). Stores nothing; the checkpoint
//! images belong to the cache, so its cleanup undoes nothing.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::checkpoint::Checkpoints;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::checkpoint::DockerSaver;
use crate::DockerState;

/// See the module docs.
pub struct StepCheckpointAttach {
    checkpoints: Arc<dyn Checkpoints>,
}

impl StepCheckpointAttach {
    /// An attach step.
    pub fn new(checkpoints: Arc<dyn Checkpoints>) -> Self {
        StepCheckpointAttach { checkpoints }
    }
}

#[async_trait]
impl Step<DockerState> for StepCheckpointAttach {
    fn name(&self) -> &'static str {
        "StepCheckpointAttach"
    }

    async fn run(
        &mut self,
        _cx: &StepContext<'_>,
        state: &mut DockerState,
    ) -> Result<StepAction, StepError> {
        let Some(container) = state.container.clone() else {
            return Err(StepError::msg(
                "there is no container to save checkpoints of",
            ));
        };
        let base_image = state
            .restore_image
            .clone()
            .or_else(|| state.base_image_id.clone())
            .unwrap_or_default();
        self.checkpoints.attach(Arc::new(DockerSaver {
            docker: state.docker.clone(),
            container,
            previous: std::sync::Mutex::new(base_image),
        }));
        Ok(StepAction::Continue)
    }
}
