//! `StepDetachVolume` (with `use_blockstorage_volume`): after the server
//! is stopped, detaches its root volume (Cinder's `os-detach`) and waits
//! until it is available, so that it can be uploaded as the image.
//!
//! Cinder releases with the fix for CVE-2023-2088 (every supported release
//! since May 2023) refuse `os-detach` of a volume Nova attached
//! (`409 ConflictNovaUsingAttachment`), and Nova never detaches a root
//! volume, so Packer's flow stops here on such clouds. kiln then
//! terminates the stopped server, which releases the volume (it was
//! attached with `delete_on_termination` false), and goes on. No cleanup:
//! the volume step deletes the volume, and the server's step finds its
//! server gone.

use async_trait::async_trait;
use kiln_cloud::Poller;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::json;

use kiln_cloud::steps::instance::InstanceApi;

use super::volume::wait_volume;
use crate::client::{Call, Service};
use crate::OsState;

/// See the module docs.
pub struct StepDetachVolume {
    /// `volume_name`, for messages.
    pub volume_name: String,
    /// Waits for the volume.
    pub poller: Poller,
}

#[async_trait]
impl Step<OsState> for StepDetachVolume {
    fn name(&self) -> &'static str {
        "StepDetachVolume"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut OsState,
    ) -> Result<StepAction, StepError> {
        let id = state
            .volume_id
            .clone()
            .ok_or_else(|| StepError::msg("no volume to detach"))?;
        let name = &self.volume_name;
        cx.ui
            .say(&format!("Detaching volume {name} (volume id: {id})"));
        let c = &state.os.client;
        let detached = c
            .call(
                &Call::post(
                    Service::BlockStorage,
                    "DetachVolume",
                    format!("/volumes/{id}/action"),
                    json!({"os-detach": {}}),
                ),
                Some(&cx.cancel),
            )
            .await;
        match detached {
            Ok(_) => {}
            Err(e) if e.to_string().contains("ConflictNovaUsingAttachment") => {
                let server = state.server_id.clone().ok_or_else(|| {
                    StepError::msg(format!("Error detaching block storage volume: {e}"))
                })?;
                cx.ui.say(&format!(
                    "Cinder refuses to detach a volume Nova attached: terminating the stopped server {server} to release volume {name}..."
                ));
                state.os.terminate(&server).await.map_err(|e| {
                    StepError::msg(format!(
                        "Error detaching block storage volume: cannot terminate server `{server}`: {e}"
                    ))
                })?;
            }
            Err(e) => {
                return Err(StepError::msg(format!(
                    "Error detaching block storage volume: {e}"
                )))
            }
        }
        cx.ui.say(&format!(
            "Waiting for volume {name} (volume id: {id}) to become available..."
        ));
        wait_volume(c, &self.poller, &id, &cx.cancel)
            .await
            .map_err(|e| match e {
                StepError::Cancelled => StepError::Cancelled,
                e => StepError::msg(format!("Error waiting for volume: {e}")),
            })?;
        Ok(StepAction::Continue)
    }
}
