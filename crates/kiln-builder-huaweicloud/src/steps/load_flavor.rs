//! `StepLoadFlavor`: finds the `flavor` by id, else by name, among the
//! zone's flavors (`ListFlavors`). Stores its id in `HuaweiState::flavor_id`;
//! creates nothing, nothing to clean up.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::Call;
use crate::config::Service;
use crate::HuaweiState;

/// See the module docs.
pub struct StepLoadFlavor {
    /// `flavor`.
    pub flavor: String,
}

#[async_trait]
impl Step<HuaweiState> for StepLoadFlavor {
    fn name(&self) -> &'static str {
        "StepLoadFlavor"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut HuaweiState,
    ) -> Result<StepAction, StepError> {
        let c = &state.hw.client;
        cx.ui.say(&format!("Loading flavor: {}", self.flavor));
        let mut call = Call::get(
            Service::Ecs,
            "ListFlavors",
            c.path("/v1", "/cloudservers/flavors"),
        );
        if let Some(z) = &state.availability_zone {
            call = call.query("availability_zone", z.clone());
        }
        let v = c
            .call(&call, Some(&cx.cancel))
            .await
            .map_err(|e| StepError::msg(format!("unable to list the flavors: {e}")))?;
        let flavors = v["flavors"].as_array().cloned().unwrap_or_default();
        let found = flavors
            .iter()
            .find(|f| f["id"] == self.flavor.as_str())
            .or_else(|| flavors.iter().find(|f| f["name"] == self.flavor.as_str()));
        let Some(id) = found.and_then(|f| f["id"].as_str()) else {
            return Err(StepError::msg(format!(
                "unable to find the specified flavor `{}` by ID or name in `{}`",
                self.flavor,
                state.availability_zone.as_deref().unwrap_or("the region")
            )));
        };
        cx.ui.message(&format!("Verified flavor. ID: {id}"));
        state.flavor_id = Some(id.to_string());
        Ok(StepAction::Continue)
    }
}
