//! `StepPreValidate` (Packer's): before anything is created, checks that a
//! `vpc_id` without a subnet is the default VPC, and that no AMI of this
//! account already has `ami_name` (unless `force_deregister`, or
//! `skip_create_ami`; the name query is shared with the other builds of
//! the process, see [`crate::lookup`]). Creates nothing; no cleanup.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::{Config, ExistingAmi};
use crate::AmazonState;

/// See the module docs.
pub struct StepPreValidate {
    config: Arc<Config>,
}

impl StepPreValidate {
    /// A pre-validation step.
    pub fn new(config: Arc<Config>) -> Self {
        StepPreValidate { config }
    }
}

#[async_trait]
impl Step<AmazonState> for StepPreValidate {
    fn name(&self) -> &'static str {
        "StepPreValidate"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        cx.ui.say("Prevalidating any provided VPC information");
        if let (Some(vpc), None, None) = (&c.vpc_id, &c.subnet_id, &c.subnet_filter) {
            let res = state
                .ec2
                .send(state.ec2.describe_vpcs().vpc_ids(vpc), |r| r.send())
                .await
                .map_err(|e| {
                    StepError::msg(format!(
                        "error retrieving VPC information for vpc_id `{vpc}`: {}",
                        e
                    ))
                })?;
            if let [v] = res.vpcs() {
                if v.is_default() != Some(true) {
                    return Err(StepError::msg(format!(
                        "`subnet_id` or `subnet_filter` must be provided for non-default VPCs (`{vpc}`)"
                    )));
                }
            }
        }
        if c.existing_ami != ExistingAmi::Fail {
            cx.ui
                .say("Force Deregister flag found, skipping prevalidating AMI Name");
            return Ok(StepAction::Continue);
        }
        if c.skip_create_ami {
            return Ok(StepAction::Continue);
        }
        cx.ui
            .say(&format!("Prevalidating AMI Name: {}", c.ami_name));
        let found = state
            .lookups
            .own_image_named(&c.ami_name)
            .await
            .map_err(|e| StepError::msg(format!("error querying AMI: {e}")))?;
        if let Some(id) = found {
            return Err(StepError::msg(format!(
                "name conflicts with an existing AMI: `{id}`\n  hint: set `force_deregister` to replace it"
            )));
        }
        Ok(StepAction::Continue)
    }
}
