//! In an `-incremental` build: says what shapes the container (the base
//! image by ID and the run options, [`crate::checkpoint::inputs`]) and asks
//! the core for the checkpoint to start from; the run step then starts the
//! container from that checkpoint's image instead of the base image.
//! Stores the image in `DockerState::restore_image`; nothing to clean up
//! (the checkpoint image belongs to the cache).

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::checkpoint::Checkpoints;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::engine_message;
use crate::config::Config;
use crate::DockerState;

/// See the module docs.
pub struct StepCheckpointPlan {
    config: Config,
    checkpoints: Arc<dyn Checkpoints>,
}

impl StepCheckpointPlan {
    /// A plan step for the build configured by `config`.
    pub fn new(config: Config, checkpoints: Arc<dyn Checkpoints>) -> Self {
        StepCheckpointPlan {
            config,
            checkpoints,
        }
    }
}

#[async_trait]
impl Step<DockerState> for StepCheckpointPlan {
    fn name(&self) -> &'static str {
        "StepCheckpointPlan"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut DockerState,
    ) -> Result<StepAction, StepError> {
        let image = &self.config.image;
        let info = state.docker.inspect_image(image).await.map_err(|e| {
            StepError::msg(format!(
                "cannot inspect image `{image}`: {}",
                engine_message(&e)
            ))
        })?;
        let id = info.id.unwrap_or_default();
        let inputs = crate::checkpoint::inputs(&self.config, &id);
        if let Some(restore) = self.checkpoints.plan(cx.ui, inputs).await {
            let Some(image) = restore.data.get("image").and_then(|v| v.as_str()) else {
                return Err(StepError::msg(
                    "the checkpoint to restore names no image; remove it with `kiln cache clear`",
                ));
            };
            cx.ui.message(&format!(
                "Starting the container from checkpoint image {image}"
            ));
            state.restore_image = Some(image.to_string());
        }
        state.base_image_id = Some(id);
        Ok(StepAction::Continue)
    }
}
