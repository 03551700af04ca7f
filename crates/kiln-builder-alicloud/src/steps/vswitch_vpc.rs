//! `vswitch_id` without `vpc_id`: the vSwitch's VPC looked up
//! (`DescribeVSwitches`) before kiln-cloud's network step checks both.
//! Packer 1.6.6 creates a temporary VPC instead and then fails, not
//! finding the vSwitch in it. Creates nothing; nothing to clean up.

use async_trait::async_trait;
use kiln_cloud::steps::network::{NetworkPlan, StepNetwork};
use kiln_cloud::Poller;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::AlicloudState;

/// Finds the VPC of the template's vSwitch, then runs the network step
/// on both as given (which records them in the state).
pub struct StepVSwitchVpc {
    pub vswitch: String,
    pub poller: Poller,
}

#[async_trait]
impl Step<AlicloudState> for StepVSwitchVpc {
    fn name(&self) -> &'static str {
        "stepConfigAlicloudVPC"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AlicloudState,
    ) -> Result<StepAction, StepError> {
        let vpc = state
            .ecs
            .vswitch_vpc(&self.vswitch)
            .await
            .map_err(|e| StepError::msg(format!("Failed querying vswitch: {e}")))?
            .ok_or_else(|| {
                StepError::msg(format!(
                    "The specified vswitch {{{}}} doesn't exist.\n  hint: check `vswitch_id` and `region`",
                    self.vswitch
                ))
            })?;
        cx.ui
            .message(&format!("Found vpc {vpc} of vswitch {}", self.vswitch));
        let plan = NetworkPlan::Given {
            network: vpc,
            subnet: self.vswitch.clone(),
        };
        // Given resources: the network step checks them and has nothing
        // to clean up.
        StepNetwork::new(plan, self.poller.clone())
            .run(cx, state)
            .await
    }
}
