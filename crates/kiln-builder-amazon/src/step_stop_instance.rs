//! `StepStopInstance` (Packer's `StepStopEBSBackedInstance`): stops the
//! instance through the API (`StopInstances`, shared with the other builds
//! of the process, [`crate::lookup`]) and waits until it is stopped, so the image is
//! consistent. With `disable_stop_instance` a provisioner is expected to
//! stop it; the step only waits (checking at once, then every
//! `aws_polling` delay, through the process's shared instance lookups,
//! [`crate::lookup`]). Spot instances cannot be stopped and are
//! imaged running, as in Packer. Creates nothing; no cleanup (the launch
//! step's cleanup terminates the instance).

use std::sync::Arc;

use async_trait::async_trait;
use kiln_cloud::{CheckError, Status};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::{Config, Market, StopInstance};
use crate::{client, AmazonState};

/// See the module docs.
pub struct StepStopInstance {
    config: Arc<Config>,
}

impl StepStopInstance {
    /// A stop step.
    pub fn new(config: Arc<Config>) -> Self {
        StepStopInstance { config }
    }
}

#[async_trait]
impl Step<AmazonState> for StepStopInstance {
    fn name(&self) -> &'static str {
        "StepStopEBSBackedInstance"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        if c.market != Market::OnDemand {
            return Ok(StepAction::Continue);
        }
        let Some(id) = state.instance_id() else {
            return Err(StepError::msg("there is no instance to stop"));
        };
        match c.stop_instance {
            StopInstance::Api => {
                cx.ui.say("Stopping the source instance...");
                cx.ui.message("Stopping instance");
                state
                    .lookups
                    .stop(&id)
                    .await
                    .map_err(|e| StepError::msg(format!("error stopping instance: {e}")))?;
            }
            StopInstance::ByProvisioner => {
                cx.ui
                    .say("Automatic instance stop disabled. Please stop instance manually.");
            }
        }
        cx.ui.say("Waiting for the instance to stop...");
        let lookups = &state.lookups;
        let idr: &str = &id;
        client::poll(
            c.polling,
            &cx.cancel,
            &format!("instance ({id}) to stop"),
            move || async move {
                let Some(instance) = lookups.instance(idr).await? else {
                    return Err(CheckError::Failed(format!(
                        "the instance `{idr}` does not exist"
                    )));
                };
                let name = instance
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default();
                match name.as_str() {
                    "stopped" => Ok(Status::Ready(())),
                    "terminated" | "shutting-down" => {
                        Err(CheckError::Failed(format!("the instance is `{name}`")))
                    }
                    _ => Ok(Status::Pending(name)),
                }
            },
        )
        .await?;
        Ok(StepAction::Continue)
    }
}
