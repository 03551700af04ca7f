//! `stepConfigSecurityGroup`: checks the given `security_group_id` (a
//! UNet firewall) exists (`DescribeFirewall`, RetCode 54002 when not), or
//! finds the project's default "recommend non web" firewall, paging
//! through them all; records it in `UcloudState::security_group_id`.
//! Creates nothing; nothing to clean up.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use super::config_vpc::DataSet;
use crate::client::params;
use crate::cloud::PAGE;
use crate::UcloudState;

/// The type of UCloud's default firewall for SSH.
const NON_WEB: &str = "recommend non web";

/// Picks the security group.
pub struct StepConfigSecurityGroup {
    /// `security_group_id`.
    pub security_group_id: Option<String>,
}

#[async_trait]
impl Step<UcloudState> for StepConfigSecurityGroup {
    fn name(&self) -> &'static str {
        "stepConfigSecurityGroup"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut UcloudState,
    ) -> Result<StepAction, StepError> {
        let client = &state.uhost.client;
        if let Some(id) = &self.security_group_id {
            cx.ui.say(&format!(
                "Trying to use specified security group \"{id}\"..."
            ));
            let found: Result<DataSet, _> = client
                .call(
                    "DescribeFirewall",
                    &params([("FWId", id)]),
                    Some(&cx.cancel),
                )
                .await;
            match found {
                Ok(d) if d.data_set.iter().any(|f| f["FWId"] == id.as_str()) => {
                    state.security_group_id = Some(id.clone());
                    return Ok(StepAction::Continue);
                }
                Ok(_) => {}
                Err(e) if e.is(&["54002"]) => {}
                Err(e) => {
                    return Err(StepError::msg(format!(
                        "Error on querying specified security group `{id}`: {e}"
                    )))
                }
            }
            return Err(StepError::msg(format!(
                "the specified security group `{id}` does not exist"
            )));
        }
        cx.ui.say("Trying to use default security group...");
        let mut offset = 0;
        loop {
            let page: DataSet = client
                .call(
                    "DescribeFirewall",
                    &params([("Limit", PAGE), ("Offset", offset)]),
                    Some(&cx.cancel),
                )
                .await
                .map_err(|e| {
                    StepError::msg(format!("Error on querying default security group: {e}"))
                })?;
            if let Some(f) = page.data_set.iter().find(|f| f["Type"] == NON_WEB) {
                state.security_group_id = f["FWId"].as_str().map(String::from);
                return Ok(StepAction::Continue);
            }
            if page.data_set.len() < PAGE {
                return Err(StepError::msg("the default security group does not exist"));
            }
            offset += PAGE;
        }
    }
}
