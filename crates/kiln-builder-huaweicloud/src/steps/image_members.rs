//! `stepAddImageMembers`: shares the image with `image_members`
//! (`BatchAddMembers`, a job). As the plugin does, a failure is a warning
//! ("share the image manually"), not the build's. Changes only the image
//! this build made: nothing to clean up.

use async_trait::async_trait;
use kiln_cloud::Poller;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::json;

use crate::client::Call;
use crate::cloud::{text, wait_job};
use crate::config::Service;
use crate::HuaweiState;

/// See the module docs.
pub struct StepAddImageMembers {
    /// `image_members`.
    pub members: Vec<String>,
    /// `image_auto_accept_members`.
    pub auto_accept: bool,
    /// Waits for the job.
    pub poller: Poller,
}

#[async_trait]
impl Step<HuaweiState> for StepAddImageMembers {
    fn name(&self) -> &'static str {
        "stepAddImageMembers"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut HuaweiState,
    ) -> Result<StepAction, StepError> {
        if self.members.is_empty() {
            return Ok(StepAction::Continue);
        }
        let images: Vec<String> = state.images.values().cloned().collect();
        cx.ui.say(&format!(
            "Adding members {:?} to image {:?}",
            self.members, images
        ));
        let c = &state.hw.client;
        let call = Call::post(
            Service::Ims,
            "BatchAddMembers",
            "/v1/cloudimages/members",
            json!({"images": images, "projects": self.members}),
        );
        let result = match c.call(&call, Some(&cx.cancel)).await {
            Ok(job) => wait_job(
                c,
                Service::Ims,
                &text(&job, "job_id"),
                "image members",
                &self.poller,
                &cx.cancel,
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if cx.cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        if let Err(e) = result {
            cx.ui
                .message(&format!("WARN: failed to add members to image: {e}"));
            cx.ui.message("WARN: please share the image manually!\n");
            return Ok(StepAction::Continue);
        }
        if self.auto_accept {
            cx.ui.message("image_auto_accept_members is not supportted, please accept the image in the target project.");
        }
        Ok(StepAction::Continue)
    }
}
