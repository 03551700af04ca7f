//! `StepDeregisterAmi` (Packer's `StepDeregisterAMI`): with
//! `force_deregister`, deregisters every AMI of this account named
//! `ami_name` in the build region and in `ami_regions`, and with
//! `force_delete_snapshot` deletes their snapshots too. Removes the user's
//! old images on purpose; nothing to clean up.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::Filter;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::{Config, ExistingAmi};
use crate::{client, AmazonState};

/// See the module docs.
pub struct StepDeregisterAmi {
    config: Arc<Config>,
}

impl StepDeregisterAmi {
    /// A deregister step.
    pub fn new(config: Arc<Config>) -> Self {
        StepDeregisterAmi { config }
    }
}

#[async_trait]
impl Step<AmazonState> for StepDeregisterAmi {
    fn name(&self) -> &'static str {
        "StepDeregisterAMI"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        if c.existing_ami == ExistingAmi::Fail {
            return Ok(StepAction::Continue);
        }
        let regions = std::iter::once(state.region.clone()).chain(c.ami_regions.iter().cloned());
        for region in regions {
            let ec2 = client::ec2_for(&state.sdk, &region);
            let resp = ec2
                .send(
                    ec2.describe_images()
                        .owners("self")
                        .filters(Filter::builder().name("name").values(&c.ami_name).build()),
                    |r| r.send(),
                )
                .await
                .map_err(|e| StepError::msg(format!("error describing AMI in {region}: {}", e)))?;
            for image in resp.images() {
                let id = image.image_id().unwrap_or_default();
                ec2.send(ec2.deregister_image().image_id(id), |r| r.send())
                    .await
                    .map_err(|e| {
                        StepError::msg(format!("error deregistering existing AMI `{id}`: {}", e))
                    })?;
                cx.ui
                    .say(&format!("Deregistered AMI {}, id: {id}", c.ami_name));
                if c.existing_ami == ExistingAmi::DeregisterAndDeleteSnapshots {
                    for snap in image
                        .block_device_mappings()
                        .iter()
                        .filter_map(|b| b.ebs().and_then(|e| e.snapshot_id()))
                    {
                        ec2.send(ec2.delete_snapshot().snapshot_id(snap), |r| r.send())
                            .await
                            .map_err(|e| {
                                StepError::msg(format!(
                                    "error deleting existing snapshot `{snap}`: {}",
                                    e
                                ))
                            })?;
                        cx.ui.say(&format!("Deleted snapshot: {snap}"));
                    }
                }
            }
        }
        Ok(StepAction::Continue)
    }
}
