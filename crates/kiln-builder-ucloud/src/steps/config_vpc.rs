//! `stepConfigVPC`: checks the given `vpc_id` exists (`DescribeVPC`) and
//! records it in `UcloudState::vpc_id`; without one the UHost goes into
//! the region's default VPC. Creates nothing; nothing to clean up.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde::Deserialize;

use crate::client::params;
use crate::UcloudState;

/// Picks the VPC.
pub struct StepConfigVpc {
    /// `vpc_id`.
    pub vpc_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DataSet {
    #[serde(default)]
    pub(super) data_set: Vec<serde_json::Value>,
}

#[async_trait]
impl Step<UcloudState> for StepConfigVpc {
    fn name(&self) -> &'static str {
        "stepConfigVPC"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut UcloudState,
    ) -> Result<StepAction, StepError> {
        let Some(id) = &self.vpc_id else {
            cx.ui.say("Trying to use default vpc...");
            return Ok(StepAction::Continue);
        };
        cx.ui
            .say(&format!("Trying to use specified vpc \"{id}\"..."));
        let found: DataSet = state
            .uhost
            .client
            .call("DescribeVPC", &params([("VPCIds.0", id)]), Some(&cx.cancel))
            .await
            .map_err(|e| StepError::msg(format!("Error on querying specified vpc `{id}`: {e}")))?;
        if !found.data_set.iter().any(|v| v["VPCId"] == id.as_str()) {
            return Err(StepError::msg(format!(
                "the specified vpc `{id}` does not exist"
            )));
        }
        state.vpc_id = Some(id.clone());
        Ok(StepAction::Continue)
    }
}
