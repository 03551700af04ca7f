//! `StepCleanupVolumes` (Packer's): runs nothing; its cleanup, which runs
//! after the instance is terminated, deletes the instance's volumes that
//! survived it (`available`), except the ones `launch_block_device_mappings`
//! declares (their `delete_on_termination` is the user's choice). The
//! volumes are looked up through the process's shared lookups
//! ([`crate::lookup`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::AmazonState;

/// See the module docs.
pub struct StepCleanupVolumes {
    config: Arc<Config>,
}

impl StepCleanupVolumes {
    /// A volume cleanup step.
    pub fn new(config: Arc<Config>) -> Self {
        StepCleanupVolumes { config }
    }
}

#[async_trait]
impl Step<AmazonState> for StepCleanupVolumes {
    fn name(&self) -> &'static str {
        "StepCleanupVolumes"
    }

    async fn run(
        &mut self,
        _cx: &StepContext<'_>,
        _state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut AmazonState) {
        let Some(instance) = &state.instance else {
            cx.ui.say("No volumes to clean up, skipping");
            return;
        };
        cx.ui.say("Cleaning up any extra volumes...");
        let mut volumes: BTreeMap<String, String> = instance
            .block_device_mappings()
            .iter()
            .filter_map(|b| {
                Some((
                    b.ebs()?.volume_id()?.to_string(),
                    b.device_name().unwrap_or_default().to_string(),
                ))
            })
            .collect();
        if volumes.is_empty() {
            cx.ui.say("No volumes to clean up, skipping");
            return;
        }
        let ids: Vec<String> = volumes.keys().cloned().collect();
        let found = match state.lookups.volumes(&ids).await {
            Ok(v) => v,
            Err(e) => {
                cx.ui.error(&format!("Error describing volumes: {e}"));
                return;
            }
        };
        if found.is_empty() {
            cx.ui.say("No volumes to clean up, skipping");
            return;
        }
        for v in &found {
            if v.state().map(|s| s.as_str()) != Some("available") {
                volumes.remove(v.volume_id().unwrap_or_default());
            }
        }
        let found_ids: Vec<&str> = found.iter().filter_map(|v| v.volume_id()).collect();
        volumes.retain(|id, device| {
            found_ids.contains(&id.as_str())
                && !self
                    .config
                    .launch_block_devices
                    .iter()
                    .any(|b| b.device_name == *device)
        });
        for id in volumes.keys() {
            cx.ui.say(&format!("Destroying volume ({id})..."));
            if let Err(e) = state
                .ec2
                .send(state.ec2.delete_volume().volume_id(id), |r| r.send())
                .await
            {
                cx.ui.error(&format!("Error deleting volume {id}: {}", e));
            }
        }
    }
}
