//! `StepWaitForRackConnect` (`rackconnect_wait`, Rackspace): waits until
//! the server's metadata says `rackconnect_automation_status: DEPLOYED`.
//! Creates nothing; no cleanup.

use async_trait::async_trait;
use kiln_cloud::steps::wait_error;
use kiln_cloud::{CheckError, Poller, Status};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::{Call, Service};
use crate::OsState;

/// See the module docs.
pub struct StepWaitForRackConnect {
    /// How long to wait.
    pub poller: Poller,
}

#[async_trait]
impl Step<OsState> for StepWaitForRackConnect {
    fn name(&self) -> &'static str {
        "StepWaitForRackConnect"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut OsState,
    ) -> Result<StepAction, StepError> {
        let id = state
            .server_id
            .clone()
            .ok_or_else(|| StepError::msg("no server to wait for"))?;
        cx.ui.say(&format!(
            "Waiting for server ({id}) to become RackConnect ready..."
        ));
        let c = &state.os.client;
        let call = Call::get(Service::Compute, "ShowServer", format!("/servers/{id}"));
        let call = &call;
        self.poller
            .wait(
                &format!("server ({id}) to become RackConnect ready"),
                &cx.cancel,
                || async move {
                    let v = c.call(call, None).await.map_err(CheckError::from)?;
                    Ok::<_, CheckError>(
                        match v["server"]["metadata"]["rackconnect_automation_status"].as_str() {
                            Some("DEPLOYED") => Status::Ready(()),
                            s => Status::Pending(s.unwrap_or("not started").to_string()),
                        },
                    )
                },
            )
            .await
            .map_err(wait_error)?;
        Ok(StepAction::Continue)
    }
}
