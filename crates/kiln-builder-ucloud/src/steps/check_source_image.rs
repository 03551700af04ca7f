//! `stepCheckSourceImageId`: looks up `source_image_id` in the build's
//! project and region (paging through every result: kiln's fix of the
//! plugin's first-page-only look-ups), refuses Windows images (as the
//! plugin does) and, with `user_data`, images without the `CloudInit`
//! feature. Records the image in `UcloudState::source_image`. Creates
//! nothing; nothing to clean up.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::UcloudState;

/// Checks the source image.
pub struct StepCheckSourceImage {
    /// The configuration.
    pub config: Arc<Config>,
}

#[async_trait]
impl Step<UcloudState> for StepCheckSourceImage {
    fn name(&self) -> &'static str {
        "stepCheckSourceImageId"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut UcloudState,
    ) -> Result<StepAction, StepError> {
        let id = &self.config.run.source_image_id;
        cx.ui.say("Querying source image id...");
        let image = state
            .uhost
            .image(id)
            .await
            .map_err(|e| {
                StepError::msg(format!(
                    "Error on querying specified source_image_id `{id}`: {e}"
                ))
            })?
            .ok_or_else(|| {
                StepError::msg(format!(
                    "the source image `{id}` does not exist in project `{}`, region `{}`",
                    self.config.access.project_id, self.config.access.region
                ))
            })?;
        if image.os_type == "Windows" {
            return Err(StepError::msg(
                "the ucloud-uhost builder does not support Windows images yet",
            ));
        }
        let run = &self.config.run;
        if (run.user_data.is_some() || run.user_data_file.is_some())
            && !image.features.iter().any(|f| f == "CloudInit")
        {
            return Err(StepError::msg(format!(
                "the image `{id}` must have the `CloudInit` feature when `user_data` or `user_data_file` is set, got {:?}",
                image.features
            )));
        }
        state.source_image = Some(image);
        Ok(StepAction::Continue)
    }
}
