//! Packer's `stepDetachTempKeyPair`: CVM will not delete a key pair bound
//! to an instance, and the image would carry it; so before the image is
//! made the temporary key pair is detached (`DisassociateInstancesKeyPairs`
//! with `ForceStop`: CVM stops the instance, detaches, starts it again)
//! and the instance waited for until it runs again with no operation in
//! progress. Creates nothing; nothing to clean up (the key pair step's
//! cleanup deletes the key pair).

use async_trait::async_trait;
use kiln_cloud::steps::instance::{InstanceApi, Phase};
use kiln_cloud::{CheckError, Poller, Status};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::json;

use crate::TencentState;

/// See the module docs.
pub struct StepDetachTempKeyPair {
    /// How long the instance may take to run again.
    pub poller: Poller,
}

#[async_trait]
impl Step<TencentState> for StepDetachTempKeyPair {
    fn name(&self) -> &'static str {
        "stepDetachTempKeyPair"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut TencentState,
    ) -> Result<StepAction, StepError> {
        let (Some(key), Some(instance)) = (
            state.temporary_key_pair_id.clone(),
            state.instance_id.clone(),
        ) else {
            return Ok(StepAction::Continue);
        };
        cx.ui.say(&format!("Trying to detach keypair: {key}..."));
        state
            .cvm
            .cvm
            .call(
                "DisassociateInstancesKeyPairs",
                &json!({"InstanceIds": [instance], "KeyIds": [key], "ForceStop": true}),
                Some(&cx.cancel),
            )
            .await
            .map_err(|e| StepError::msg(format!("Fail to detach keypair from instance: {e}")))?;
        cx.ui.message("Waiting for keypair detached");
        // CVM stops the instance, detaches and starts it again: stopping,
        // stopped and starting are on the way.
        let cvm = &state.cvm;
        let id = instance.as_str();
        self.poller
            .wait(
                &format!("instance ({id}) to run again"),
                &cx.cancel,
                || async move {
                    match cvm.observe(id).await? {
                        None => Err(CheckError::Failed(format!(
                            "the instance `{id}` does not exist"
                        ))),
                        Some(o) => match o.phase {
                            Phase::Running => Ok(Status::Ready(())),
                            Phase::Starting | Phase::Stopping | Phase::Stopped => {
                                Ok(Status::Pending(o.state))
                            }
                            _ => Err(CheckError::Failed(format!("the instance is `{}`", o.state))),
                        },
                    }
                },
            )
            .await
            .map_err(|e| match kiln_cloud::steps::wait_error(e) {
                StepError::Cancelled => StepError::Cancelled,
                e => StepError::msg(format!("Failed to wait for keypair detached: {e}")),
            })?;
        cx.ui.message("Keypair detached");
        Ok(StepAction::Continue)
    }
}
