//! Waits for the configured time before provisioning, returning early when
//! the build is cancelled. Creates nothing, so its cleanup does nothing.

use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use super::DirState;

/// See the module docs.
pub struct StepWait {
    wait: Option<Duration>,
}

impl StepWait {
    /// Waits `wait`, when set.
    pub fn new(wait: Option<Duration>) -> Self {
        StepWait { wait }
    }
}

#[async_trait]
impl Step<DirState> for StepWait {
    fn name(&self) -> &'static str {
        "StepWait"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        _: &mut DirState,
    ) -> Result<StepAction, StepError> {
        let Some(wait) = self.wait else {
            return Ok(StepAction::Continue);
        };
        cx.ui.say(&format!("Waiting {}s...", wait.as_secs()));
        tokio::select! {
            _ = tokio::time::sleep(wait) => Ok(StepAction::Continue),
            _ = cx.cancel.cancelled() => {
                cx.ui.say("Wait cancelled");
                Err(StepError::Cancelled)
            }
        }
    }
}
