//! `StepModifyInstance` (Packer's `StepModifyEBSBackedInstance`): sets
//! `ena_support` and `sriov_support` on the stopped instance so the image
//! inherits them. Changes only the instance, which is terminated anyway;
//! no cleanup.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttributeBooleanValue, AttributeValue};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::AmazonState;

/// See the module docs.
pub struct StepModifyInstance {
    config: Arc<Config>,
}

impl StepModifyInstance {
    /// A modify-instance step.
    pub fn new(config: Arc<Config>) -> Self {
        StepModifyInstance { config }
    }
}

#[async_trait]
impl Step<AmazonState> for StepModifyInstance {
    fn name(&self) -> &'static str {
        "StepModifyEBSBackedInstance"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        let Some(id) = state.instance_id() else {
            return Ok(StepAction::Continue);
        };
        if c.sriov_support {
            cx.ui.say("Enabling Enhanced Networking (SR-IOV)...");
            state
                .ec2
                .send(
                    state
                        .ec2
                        .modify_instance_attribute()
                        .instance_id(&id)
                        .sriov_net_support(AttributeValue::builder().value("simple").build()),
                    |r| r.send(),
                )
                .await
                .map_err(|e| {
                    StepError::msg(format!(
                        "error enabling Enhanced Networking (SR-IOV) on {id}: {}",
                        e
                    ))
                })?;
        }
        if let Some(ena) = c.ena_support {
            cx.ui.say(if ena {
                "Enabling Enhanced Networking (ENA)..."
            } else {
                "Disabling Enhanced Networking (ENA)..."
            });
            state
                .ec2
                .send(
                    state
                        .ec2
                        .modify_instance_attribute()
                        .instance_id(&id)
                        .ena_support(AttributeBooleanValue::builder().value(ena).build()),
                    |r| r.send(),
                )
                .await
                .map_err(|e| {
                    StepError::msg(format!(
                        "error setting Enhanced Networking (ENA) on {id}: {}",
                        e
                    ))
                })?;
        }
        Ok(StepAction::Continue)
    }
}
