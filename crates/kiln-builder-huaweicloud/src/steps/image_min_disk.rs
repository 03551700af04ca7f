//! `StepUpdateImageMinDisk` (the older plugin's): with `image_min_disk`,
//! sets the image's minimum disk by Glance's JSON patch. Changes only the
//! image this build made (deleted on failure by the create step): nothing
//! to clean up.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::json;

use crate::client::Call;
use crate::config::Service;
use crate::HuaweiState;

/// See the module docs.
pub struct StepUpdateImageMinDisk {
    /// `image_min_disk` GB.
    pub min_disk: u32,
}

#[async_trait]
impl Step<HuaweiState> for StepUpdateImageMinDisk {
    fn name(&self) -> &'static str {
        "stepUpdateImageMinDisk"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut HuaweiState,
    ) -> Result<StepAction, StepError> {
        let Some(id) = state.images.values().next().cloned() else {
            return Ok(StepAction::Continue);
        };
        cx.ui.say(&format!(
            "Updating image min_disk to {} GB: {id}",
            self.min_disk
        ));
        let call = Call::get(
            Service::Ims,
            "GlanceUpdateImage",
            format!("/v2/images/{id}"),
        )
        .with(
            reqwest::Method::PATCH,
            json!([{"op": "replace", "path": "/min_disk", "value": self.min_disk}]),
        );
        state
            .hw
            .client
            .call(&call, Some(&cx.cancel))
            .await
            .map_err(|e| {
                StepError::msg(format!("error updating the min_disk of image `{id}`: {e}"))
            })?;
        Ok(StepAction::Continue)
    }
}
