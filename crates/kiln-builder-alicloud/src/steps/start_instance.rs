//! Packer's `stepRunAlicloudInstance`: the instance started and waited
//! for until it runs. Creates nothing.

use async_trait::async_trait;
use kiln_cloud::steps::instance::{wait_running, InstanceApi};
use kiln_cloud::Poller;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::AlicloudState;

/// Packer's `stepRunAlicloudInstance`: starts the instance and waits
/// until it runs. Creates nothing: the create step's cleanup deletes it.
pub struct StepStartInstance {
    pub poller: Poller,
}

#[async_trait]
impl Step<AlicloudState> for StepStartInstance {
    fn name(&self) -> &'static str {
        "stepRunAlicloudInstance"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AlicloudState,
    ) -> Result<StepAction, StepError> {
        let id = state
            .instance_id
            .clone()
            .ok_or_else(|| StepError::msg("there is no instance to start"))?;
        let ecs = state.ecs.clone();
        cx.ui.say(&format!("Starting instance: {id}"));
        ecs.start(&id)
            .await
            .map_err(|e| StepError::msg(format!("Error starting instance: {e}")))?;
        wait_running(&ecs, &self.poller, &id, &cx.cancel).await?;
        Ok(StepAction::Continue)
    }
}
