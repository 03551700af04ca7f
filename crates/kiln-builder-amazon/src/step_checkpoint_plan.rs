//! In an `-incremental` build with `checkpoint_images = true`: once the
//! source AMI is known (`StepSourceAmiInfo`), says what shapes the
//! instance ([`crate::checkpoint::inputs`]: the source AMI by ID, the
//! region, instance type, launch block devices, hashed user data, IAM
//! instance profile, EBS optimisation, enhanced networking, tenancy,
//! placement, network and metadata options) and asks the core for the
//! checkpoint to start from; the launch steps then launch the instance
//! from that checkpoint's AMI instead of the source AMI. Stores the AMI in
//! `AmazonState::restore_ami`; nothing to clean up (the checkpoint AMI
//! belongs to the cache).

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::checkpoint::Checkpoints;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::AmazonState;

/// See the module docs.
pub struct StepCheckpointPlan {
    config: Arc<Config>,
    checkpoints: Arc<dyn Checkpoints>,
}

impl StepCheckpointPlan {
    /// A plan step for the build configured by `config`.
    pub fn new(config: Arc<Config>, checkpoints: Arc<dyn Checkpoints>) -> Self {
        StepCheckpointPlan {
            config,
            checkpoints,
        }
    }
}

#[async_trait]
impl Step<AmazonState> for StepCheckpointPlan {
    fn name(&self) -> &'static str {
        "StepCheckpointPlan"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let Some(source) = state
            .source_image
            .as_ref()
            .and_then(|i| i.image_id())
            .map(str::to_string)
        else {
            return Err(StepError::msg("no source image was found"));
        };
        let inputs = crate::checkpoint::inputs(&self.config, &source);
        if let Some(restore) = self.checkpoints.plan(cx.ui, inputs).await {
            let Some(ami) = restore.data.get("ami").and_then(|v| v.as_str()) else {
                return Err(StepError::msg(
                    "the checkpoint to restore names no AMI; remove it with `kiln cache clear`",
                ));
            };
            cx.ui
                .message(&format!("Launching the instance from checkpoint AMI {ami}"));
            state.restore_ami = Some(ami.to_string());
        }
        Ok(StepAction::Continue)
    }
}
