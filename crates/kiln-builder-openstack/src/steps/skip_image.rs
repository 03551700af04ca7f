//! `stepCreateImage` with `skip_create_image`: says it skips; the build
//! then has no artifact. Creates nothing; no cleanup.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::OsState;

/// See the module docs.
pub struct StepSkipCreateImage;

#[async_trait]
impl Step<OsState> for StepSkipCreateImage {
    fn name(&self) -> &'static str {
        "stepCreateImage"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        _state: &mut OsState,
    ) -> Result<StepAction, StepError> {
        cx.ui.say("Skipping image creation...");
        Ok(StepAction::Continue)
    }
}
