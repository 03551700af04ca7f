//! Packer's `stepConfigAlicloudEIP` / `stepConfigAlicloudPublicIP`: the
//! address SSH connects to (an EIP, a public IP, or the private one); its
//! cleanup unassociates and releases the EIP.

use async_trait::async_trait;
use kiln_cloud::steps::instance::InstanceApi;
use kiln_cloud::{CheckError, Poller, Status};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::Value;

use crate::client::Params;
use crate::cloud::{cleanup_line, client_token, items, text, Ecs};
use crate::AlicloudState;

/// How the instance is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPlan {
    /// `ssh_private_ip`: its private address.
    Private,
    /// `associate_public_ip_address`: a public IP (`AllocatePublicIpAddress`).
    PublicIp,
    /// An elastic IP, allocated and associated (Packer's default in a VPC).
    Eip,
}

/// Packer's `stepConfigAlicloudEIP` / `stepConfigAlicloudPublicIP`: the
/// address the communicator connects to. The EIP is recorded before the
/// association; cleanup unassociates and releases it.
pub struct StepConfigAddress {
    pub plan: AddressPlan,
    pub charge_type: Option<&'static str>,
    pub bandwidth: Option<u32>,
    pub poller: Poller,
    /// The EIP allocated, to release.
    pub allocated: Option<String>,
}

/// Waits until EIP `id` is `want`.
async fn wait_eip(
    ecs: &Ecs,
    poller: &Poller,
    id: &str,
    want: &str,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), StepError> {
    poller
        .wait(&format!("EIP ({id}) to be {want}"), cancel, || async move {
            let reply = ecs
                .call(
                    "DescribeEipAddresses",
                    &Params::new().set("AllocationId", id),
                )
                .await?;
            match items(&reply, "EipAddresses", "EipAddress").first() {
                Some(e) if text(e, "Status") == want => Ok(Status::Ready(())),
                Some(e) => Ok(Status::Pending(text(e, "Status").to_string())),
                None => Err(CheckError::Failed(format!("the EIP `{id}` does not exist"))),
            }
        })
        .await
        .map_err(kiln_cloud::steps::wait_error)
}

#[async_trait]
impl Step<AlicloudState> for StepConfigAddress {
    fn name(&self) -> &'static str {
        match self.plan {
            AddressPlan::Eip => "stepConfigAlicloudEIP",
            _ => "stepConfigAlicloudPublicIP",
        }
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AlicloudState,
    ) -> Result<StepAction, StepError> {
        let ecs = state.ecs.clone();
        let instance = state
            .instance_id
            .clone()
            .ok_or_else(|| StepError::msg("there is no instance to give an address"))?;
        match self.plan {
            AddressPlan::Private => {
                let observed = ecs
                    .observe(&instance)
                    .await
                    .map_err(|e| StepError::msg(format!("Error getting instance: {e}")))?;
                let ip = observed
                    .and_then(|o| {
                        o.instance["VpcAttributes"]["PrivateIpAddress"]["IpAddress"][0]
                            .as_str()
                            .map(str::to_string)
                    })
                    .ok_or_else(|| StepError::msg("the instance has no private IP address"))?;
                cx.ui.say(&format!("Private IP address: {ip}"));
                state.ssh_host = Some(ip);
            }
            AddressPlan::PublicIp => {
                let reply = ecs
                    .call(
                        "AllocatePublicIpAddress",
                        &Params::new().set("InstanceId", instance.as_str()),
                    )
                    .await
                    .map_err(|e| StepError::msg(format!("Error allocating public ip: {e}")))?;
                let ip = text(&reply, "IpAddress").to_string();
                cx.ui.say(&format!("Allocated public ip address {ip}."));
                state.ssh_host = Some(ip);
            }
            AddressPlan::Eip => {
                cx.ui.say("Allocating eip...");
                let params = Params::new()
                    .opt("InternetChargeType", self.charge_type)
                    .opt(
                        "Bandwidth",
                        self.bandwidth.filter(|b| *b > 0).map(|b| b.to_string()),
                    )
                    .set("ClientToken", client_token());
                let reply: Value = ecs
                    .client
                    .create("AllocateEipAddress", &params, &[], false, || async {
                        Ok(None)
                    })
                    .await
                    .map_err(|e| StepError::msg(format!("Error allocating eip: {e}")))?;
                let id = text(&reply, "AllocationId").to_string();
                let ip = text(&reply, "EipAddress").to_string();
                self.allocated = Some(id.clone());
                wait_eip(&ecs, &self.poller, &id, "Available", &cx.cancel).await?;
                ecs.call(
                    "AssociateEipAddress",
                    &Params::new()
                        .set("AllocationId", id.as_str())
                        .set("InstanceId", instance.as_str()),
                )
                .await
                .map_err(|e| StepError::msg(format!("Error binding eip: {e}")))?;
                wait_eip(&ecs, &self.poller, &id, "InUse", &cx.cancel).await?;
                cx.ui.message(&format!("Allocated eip: {ip}"));
                state.ssh_host = Some(ip);
            }
        }
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut AlicloudState) {
        let Some(id) = self.allocated.take() else {
            return;
        };
        let ecs = &state.ecs;
        cx.ui.say(&cleanup_line("EIP", cx.failed));
        let params = Params::new().set("AllocationId", id.as_str());
        let unassociate = ecs
            .call(
                "UnassociateEipAddress",
                &params.clone().opt("InstanceId", state.instance_id.clone()),
            )
            .await;
        // One never associated is available already.
        if let Err(e) = unassociate {
            if !e.is(&["IncorrectEipStatus"]) {
                cx.ui.error(&format!("Failed to unassociate eip: {e}"));
            }
        }
        if let Err(e) = wait_eip(ecs, &self.poller, &id, "Available", &cx.cancel).await {
            cx.ui
                .error(&format!("Timeout while unassociating eip: {e}"));
        }
        if let Err(e) = ecs
            .delete(
                "ReleaseEipAddress",
                &params,
                &["InvalidAllocationId.NotFound"],
            )
            .await
        {
            cx.ui.error(&format!(
                "Failed to release eip, please release it manually: {id} ({e})"
            ));
        }
    }
}
