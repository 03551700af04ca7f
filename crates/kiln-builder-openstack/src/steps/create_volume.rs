//! `StepCreateVolume` (with `use_blockstorage_volume`): makes the root
//! volume from the source image in Cinder (`volume_name`, `volume_type`,
//! `volume_availability_zone`, `volume_size` or the image's size; the
//! image's `metadata` and the run tags as its metadata) and waits until it
//! is available. Records it before the wait; its cleanup waits for it to
//! be free and deletes it.

use async_trait::async_trait;
use kiln_cloud::Poller;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::json;

use super::volume::{volume_size, wait_volume};
use crate::client::{Call, Service};
use crate::config::Volume;
use crate::OsState;

/// See the module docs.
pub struct StepCreateVolume {
    /// The volume to make.
    pub volume: Volume,
    /// The image's `metadata`, given to the volume.
    pub metadata: std::collections::BTreeMap<String, String>,
    /// Waits for it.
    pub poller: Poller,
}

#[async_trait]
impl Step<OsState> for StepCreateVolume {
    fn name(&self) -> &'static str {
        "StepCreateVolume"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut OsState,
    ) -> Result<StepAction, StepError> {
        let c = state.os.client.clone();
        let image = state
            .source_image
            .clone()
            .ok_or_else(|| StepError::msg("no source image was chosen before the volume"))?;
        let size = match self.volume.size {
            Some(s) => u64::from(s),
            None => {
                let v = c
                    .call(
                        &Call::get(Service::Image, "ShowImage", format!("/images/{image}")),
                        Some(&cx.cancel),
                    )
                    .await
                    .map_err(|e| StepError::msg(format!("Error creating volume: {e}")))?;
                volume_size(&v)
            }
        };
        cx.ui.say("Creating volume...");
        let mut metadata = self.metadata.clone();
        metadata.extend(state.run_tags.iter().cloned());
        let mut body = json!({
            "size": size, "name": self.volume.name, "imageRef": image, "metadata": metadata,
        });
        if let Some(t) = &self.volume.kind {
            body["volume_type"] = json!(t);
        }
        if let Some(z) = &self.volume.availability_zone {
            body["availability_zone"] = json!(z);
        }
        let v = c
            .call(
                &Call::post(
                    Service::BlockStorage,
                    "CreateVolume",
                    "/volumes",
                    json!({"volume": body}),
                ),
                Some(&cx.cancel),
            )
            .await
            .map_err(|e| StepError::msg(format!("Error creating volume: {e}")))?;
        let id = v["volume"]["id"].as_str().unwrap_or_default().to_string();
        state.volume_id = Some(id.clone());
        cx.ui.say(&format!(
            "Waiting for volume {} (volume id: {id}) to become available...",
            self.volume.name
        ));
        wait_volume(&c, &self.poller, &id, &cx.cancel)
            .await
            .map_err(|e| match e {
                StepError::Cancelled => StepError::Cancelled,
                e => StepError::msg(format!("Error waiting for volume: {e}")),
            })?;
        cx.ui.message(&format!("Volume ID: {id}"));
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut OsState) {
        let Some(id) = state.volume_id.take() else {
            return;
        };
        let c = &state.os.client;
        let show = Call::get(
            Service::BlockStorage,
            "ShowVolume",
            format!("/volumes/{id}"),
        );
        match c.call(&show, None).await {
            Ok(v) => {
                let status = v["volume"]["status"].as_str().unwrap_or_default();
                if status != "available" && status != "error" {
                    cx.ui.say(&format!(
                        "Waiting for volume {} (volume id: {id}) to become available...",
                        self.volume.name
                    ));
                    let never = tokio_util::sync::CancellationToken::new();
                    if wait_volume(c, &self.poller, &id, &never).await.is_err() {
                        cx.ui.error(&format!(
                            "Error getting the volume information. Please delete the volume manually: {id}"
                        ));
                        return;
                    }
                }
            }
            Err(e) if crate::client::not_found(&e) => return,
            Err(_) => {
                cx.ui.error(&format!(
                    "Error getting the volume information. Please delete the volume manually: {id}"
                ));
                return;
            }
        }
        cx.ui.say(&format!("Deleting volume: {id} ..."));
        let delete = Call::delete(
            Service::BlockStorage,
            "DeleteVolume",
            format!("/volumes/{id}"),
        );
        if let Err(e) = c.delete(&delete).await {
            cx.ui.error(&format!(
                "Error cleaning up volume. Please delete the volume manually: {id} ({e})"
            ));
        }
    }
}
