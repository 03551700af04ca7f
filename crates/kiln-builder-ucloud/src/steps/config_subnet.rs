//! `stepConfigSubnet`: checks the given `subnet_id` exists
//! (`DescribeSubnet`) and is in the VPC, and records it in
//! `UcloudState::subnet_id`; without one the UHost goes into the region's
//! default subnet. Creates nothing; nothing to clean up.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use super::config_vpc::DataSet;
use crate::client::params;
use crate::UcloudState;

/// Picks the subnet.
pub struct StepConfigSubnet {
    /// `subnet_id`.
    pub subnet_id: Option<String>,
}

#[async_trait]
impl Step<UcloudState> for StepConfigSubnet {
    fn name(&self) -> &'static str {
        "stepConfigSubnet"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut UcloudState,
    ) -> Result<StepAction, StepError> {
        let Some(id) = &self.subnet_id else {
            cx.ui.say("Trying to use default subnet...");
            return Ok(StepAction::Continue);
        };
        cx.ui
            .say(&format!("Trying to use specified subnet \"{id}\"..."));
        let found: DataSet = state
            .uhost
            .client
            .call(
                "DescribeSubnet",
                &params([("SubnetIds.0", id)]),
                Some(&cx.cancel),
            )
            .await
            .map_err(|e| {
                StepError::msg(format!("Error on querying specified subnet `{id}`: {e}"))
            })?;
        let Some(subnet) = found.data_set.iter().find(|s| s["SubnetId"] == id.as_str()) else {
            return Err(StepError::msg(format!(
                "the specified subnet `{id}` does not exist"
            )));
        };
        if let (Some(vpc), Some(in_vpc)) = (&state.vpc_id, subnet["VPCId"].as_str()) {
            if vpc != in_vpc {
                return Err(StepError::msg(format!(
                    "the specified subnet `{id}` is in vpc `{in_vpc}`, not in `{vpc}`"
                )));
            }
        }
        state.subnet_id = Some(id.clone());
        Ok(StepAction::Continue)
    }
}
