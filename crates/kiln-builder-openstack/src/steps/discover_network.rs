//! `StepDiscoverNetwork`: the networks the server is attached to: the
//! `ports`, then the `networks`, or, when neither is given, the first
//! network with a subnet inside one of `network_discovery_cidrs`
//! (Neutron's subnets). With none of these, Nova picks. Creates nothing;
//! no cleanup.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::json;

use crate::client::{Call, Service};
use crate::config::contains_net;
use crate::OsState;

/// See the module docs.
pub struct StepDiscoverNetwork {
    /// `networks`.
    pub networks: Vec<String>,
    /// `ports`.
    pub ports: Vec<String>,
    /// `network_discovery_cidrs`.
    pub cidrs: Vec<String>,
}

#[async_trait]
impl Step<OsState> for StepDiscoverNetwork {
    fn name(&self) -> &'static str {
        "StepDiscoverNetwork"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut OsState,
    ) -> Result<StepAction, StepError> {
        let mut nics: Vec<serde_json::Value> =
            self.ports.iter().map(|p| json!({"port": p})).collect();
        nics.extend(self.networks.iter().map(|n| json!({"uuid": n})));
        if nics.is_empty() && !self.cidrs.is_empty() {
            cx.ui.say("Discovering provisioning network...");
            let subnets = state
                .os
                .client
                .list_all(
                    &Call::get(Service::Network, "ListSubnets", "/subnets"),
                    "subnets",
                )
                .await
                .map_err(|e| StepError::msg(format!("error listing subnets: {e}")))?;
            let found = subnets.iter().find(|s| {
                let cidr = s["cidr"].as_str().unwrap_or_default();
                self.cidrs.iter().any(|c| contains_net(c, cidr))
            });
            let Some(network) = found.and_then(|s| s["network_id"].as_str()) else {
                return Err(StepError::msg(format!(
                    "failed to discover a provisioning network: no subnet lies within {}",
                    self.cidrs
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            cx.ui.message(&format!("Found network ID: {network}"));
            nics.push(json!({"uuid": network}));
        }
        state.networks = nics;
        Ok(StepAction::Continue)
    }
}
