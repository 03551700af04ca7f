//! In an `-incremental` build with `checkpoint_images = true`: once the
//! instance runs and answers, gives the core the way to save it as a
//! checkpoint AMI after each provisioner
//! ([`crate::checkpoint::AmiSaver`]). Stores nothing; the checkpoint AMIs
//! belong to the cache, so its cleanup undoes nothing.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::checkpoint::Checkpoints;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::checkpoint::AmiSaver;
use crate::cloud::image::Ec2Images;
use crate::config::Config;
use crate::{client, AmazonState};

/// See the module docs.
pub struct StepCheckpointAttach {
    config: Arc<Config>,
    checkpoints: Arc<dyn Checkpoints>,
}

impl StepCheckpointAttach {
    /// An attach step for the build configured by `config`.
    pub fn new(config: Arc<Config>, checkpoints: Arc<dyn Checkpoints>) -> Self {
        StepCheckpointAttach {
            config,
            checkpoints,
        }
    }
}

#[async_trait]
impl Step<AmazonState> for StepCheckpointAttach {
    fn name(&self) -> &'static str {
        "StepCheckpointAttach"
    }

    async fn run(
        &mut self,
        _cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let Some(instance) = state.instance_id() else {
            return Err(StepError::msg(
                "there is no instance to save checkpoints of",
            ));
        };
        self.checkpoints.attach(Arc::new(AmiSaver {
            images: Ec2Images::new(state.ec2.clone(), state.lookups.clone()),
            region: state.region.clone(),
            endpoint: self.config.access.endpoint.clone(),
            instance,
            run_tags: state.run_tags.clone(),
            poller: client::poller(self.config.polling),
            ec2: state.ec2.clone(),
        }));
        Ok(StepAction::Continue)
    }
}
