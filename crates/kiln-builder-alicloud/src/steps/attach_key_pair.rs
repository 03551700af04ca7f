//! Packer's `stepAttachKeyPair`: the key pair attached to the stopped
//! instance; its cleanup detaches it.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::Params;
use crate::cloud::{items, json_list, text};
use crate::AlicloudState;

/// Packer's `stepAttachKeyPair`: attaches the key pair to the stopped
/// instance (its public key goes in at start); cleanup detaches it, so
/// the key pair can be deleted.
#[derive(Default)]
pub struct StepAttachKeyPair {
    /// The key pair and instance attached.
    attached: Option<(String, String)>,
}

#[async_trait]
impl Step<AlicloudState> for StepAttachKeyPair {
    fn name(&self) -> &'static str {
        "stepAttachKeyPair"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AlicloudState,
    ) -> Result<StepAction, StepError> {
        let (Some(name), Some(instance)) = (state.key_pair_name.clone(), state.instance_id.clone())
        else {
            return Ok(StepAction::Continue);
        };
        self.attached = Some((name.clone(), instance.clone()));
        let reply = state
            .ecs
            .call(
                "AttachKeyPair",
                &Params::new()
                    .set("KeyPairName", name.as_str())
                    .set("InstanceIds", json_list(&[&instance])),
            )
            .await
            .map_err(|e| {
                StepError::msg(format!(
                    "Error attaching keypair {name} to instance {instance}: {e}"
                ))
            })?;
        if let Some(r) = items(&reply, "Results", "Result")
            .iter()
            .find(|r| text(r, "Success") == "false")
        {
            return Err(StepError::msg(format!(
                "Error attaching keypair {name} to instance {instance}: {}: {}",
                text(r, "Code"),
                text(r, "Message")
            )));
        }
        cx.ui
            .message(&format!("Attach keypair {name} to instance: {instance}"));
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut AlicloudState) {
        let Some((name, instance)) = self.attached.take() else {
            return;
        };
        let params = Params::new()
            .set("KeyPairName", name.as_str())
            .set("InstanceIds", json_list(&[&instance]));
        match state.ecs.call("DetachKeyPair", &params).await {
            Ok(_) => cx
                .ui
                .message(&format!("Detach keypair {name} from instance: {instance}")),
            Err(e) => cx.ui.error(&format!(
                "Error Detaching keypair {name} to instance {instance} : {e}"
            )),
        }
    }
}
