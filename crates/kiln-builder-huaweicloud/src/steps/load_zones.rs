//! `StepLoadAZ`: lists the region's availability zones
//! (`NovaListAvailabilityZones`), checks the `availability_zone` asked for,
//! or picks one of the available ones at random. Stores it in
//! `HuaweiState::availability_zone`; creates nothing, nothing to clean up.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::Call;
use crate::config::Service;
use crate::HuaweiState;

/// See the module docs.
pub struct StepLoadZones {
    /// `availability_zone`.
    pub zone: Option<String>,
    /// `enterprise_project_id`, said as the plugin says it.
    pub enterprise_project_id: Option<String>,
}

#[async_trait]
impl Step<HuaweiState> for StepLoadZones {
    fn name(&self) -> &'static str {
        "StepLoadAZ"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut HuaweiState,
    ) -> Result<StepAction, StepError> {
        let c = &state.hw.client;
        cx.ui.say("Loading availability zones...");
        let call = Call::get(
            Service::Ecs,
            "NovaListAvailabilityZones",
            c.path("/v2.1", "/os-availability-zone"),
        );
        let v = c
            .call(&call, Some(&cx.cancel))
            .await
            .map_err(|e| StepError::msg(format!("error getting zones: {e}")))?;
        let zones: Vec<String> = v["availabilityZoneInfo"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|z| z["zoneState"]["available"].as_bool() == Some(true))
            .filter_map(|z| z["zoneName"].as_str().map(String::from))
            .collect();
        if zones.is_empty() {
            return Err(StepError::msg("no available zones"));
        }
        let zone = match &self.zone {
            Some(z) if zones.contains(z) => {
                cx.ui.message(&format!("the specified availability_zone {z} is available"));
                z.clone()
            }
            Some(z) => {
                return Err(StepError::msg(format!(
                    "the specified availability_zone `{z}` does not exist or is not available: the region offers {}",
                    zones.join(", ")
                )))
            }
            None => {
                cx.ui.message(&format!("Availability zones: {}", zones.join(" ")));
                let pick = zones[uuid::Uuid::new_v4().as_u128() as usize % zones.len()].clone();
                cx.ui.message(&format!("Select {pick} as the availability zone"));
                pick
            }
        };
        if let Some(id) = &self.enterprise_project_id {
            cx.ui.say(&format!("Enterprise Project ID: {id}"));
        }
        state.availability_zone = Some(zone);
        Ok(StepAction::Continue)
    }
}
