//! `StepAssociatePublicipIP`: binds the EIP to the server's first port
//! (`ListServerInterfaces`, `UpdatePublicip`), as the plugin does also for
//! an EIP given at launch. Changes only the EIP's binding, which deleting
//! the server undoes: nothing to clean up.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::json;

use crate::client::Call;
use crate::config::Service;
use crate::HuaweiState;

/// See the module docs.
pub struct StepAssociateEip;

#[async_trait]
impl Step<HuaweiState> for StepAssociateEip {
    fn name(&self) -> &'static str {
        "StepAssociatePublicipIP"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut HuaweiState,
    ) -> Result<StepAction, StepError> {
        let Some(eip) = state.eip.clone() else {
            return Ok(StepAction::Continue);
        };
        let c = &state.hw.client;
        let Some(port) = state.port_id.clone() else {
            return Err(StepError::msg(
                "error getting interfaces of the instance: no interfaces attached",
            ));
        };
        cx.ui.say(&format!(
            "Associating public IP '{}' ({}) with instance port {port} ...",
            eip.id, eip.address
        ));
        let call = Call::get(
            Service::Eip,
            "UpdatePublicip",
            c.path("/v1", &format!("/publicips/{}", eip.id)),
        )
        .with(reqwest::Method::PUT, json!({"publicip": {"port_id": port}}));
        c.call(&call, Some(&cx.cancel)).await.map_err(|e| {
            StepError::msg(format!(
                "error associating public IP '{}' ({}) with instance port '{port}': {e}",
                eip.id, eip.address
            ))
        })?;
        cx.ui.message(&format!(
            "Added public IP '{}' ({}) to instance!",
            eip.id, eip.address
        ));
        state.ssh_host = Some(eip.address);
        Ok(StepAction::Continue)
    }
}
