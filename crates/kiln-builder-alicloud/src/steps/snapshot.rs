//! Packer's `stepCreateAlicloudSnapshot` (with `image_ignore_data_disks`):
//! a snapshot of the stopped instance's system disk, which the image is
//! then made of alone; its cleanup deletes the snapshot when the build
//! fails.

use async_trait::async_trait;
use kiln_cloud::{CheckError, Poller, Status};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::Value;

use crate::client::Params;
use crate::cloud::{client_token, items, json_list, tag_map, text};
use crate::AlicloudState;

const SNAPSHOT_NOT_FOUND: &[&str] = &["InvalidSnapshotId.NotFound"];

/// Packer's `stepCreateAlicloudSnapshot`: `DescribeDisks` (the instance's
/// system disk), `CreateSnapshot` of it (with a `ClientToken` and the run
/// tags), waits until it is `accomplished` and records it for
/// `CreateImage`. The snapshot is recorded before the wait; cleanup
/// deletes it when the build fails (once it is the image's, the image
/// step's cleanup has deleted it already: gone is done).
pub struct StepCreateSnapshot {
    pub poller: Poller,
    /// The snapshot made, to delete on failure.
    pub created: Option<String>,
}

#[async_trait]
impl Step<AlicloudState> for StepCreateSnapshot {
    fn name(&self) -> &'static str {
        "stepCreateAlicloudSnapshot"
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
            .ok_or_else(|| StepError::msg("there is no instance to snapshot"))?;
        let reply = ecs
            .call(
                "DescribeDisks",
                &Params::new()
                    .set("InstanceId", instance.as_str())
                    .set("DiskType", "system"),
            )
            .await
            .map_err(|e| StepError::msg(format!("Error describe disks: {e}")))?;
        let Some(disk) = items(&reply, "Disks", "Disk")
            .first()
            .map(|d| text(d, "DiskId").to_string())
        else {
            return Err(StepError::msg(format!(
                "Unable to find system disk of instance `{instance}`"
            )));
        };
        let params = Params::new()
            .set("DiskId", disk.as_str())
            .set("ClientToken", client_token())
            .tags("Tag", &tag_map(&state.run_tags));
        let reply: Value = ecs
            .client
            .create("CreateSnapshot", &params, &[], false, || async { Ok(None) })
            .await
            .map_err(|e| StepError::msg(format!("Error creating snapshot: {e}")))?;
        let id = text(&reply, "SnapshotId").to_string();
        if id.is_empty() {
            return Err(StepError::msg(
                "Error creating snapshot: ECS returned no snapshot id",
            ));
        }
        self.created = Some(id.clone());
        cx.ui
            .say(&format!("Creating snapshot from system disk {disk}: {id}"));
        let what = format!("snapshot ({id}) to be accomplished");
        self.poller
            .wait(&what, &cx.cancel, || {
                let (ecs, id) = (&ecs, &id);
                async move {
                    let reply = ecs
                        .call(
                            "DescribeSnapshots",
                            &Params::new().set("SnapshotIds", json_list(&[id])),
                        )
                        .await?;
                    match items(&reply, "Snapshots", "Snapshot").first() {
                        Some(s) if text(s, "Status") == "accomplished" => Ok(Status::Ready(())),
                        Some(s) if text(s, "Status") == "failed" => {
                            Err(CheckError::Failed(format!("the snapshot `{id}` failed")))
                        }
                        Some(s) => Ok(Status::Pending(text(s, "Status").to_string())),
                        None => Ok(Status::Pending("unknown to ECS".into())),
                    }
                }
            })
            .await
            .map_err(|e| match kiln_cloud::steps::wait_error(e) {
                StepError::Cancelled => StepError::Cancelled,
                e => StepError::msg(format!("Timeout waiting for snapshot to be created: {e}")),
            })?;
        state.system_snapshot = Some(id);
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut AlicloudState) {
        let Some(id) = self.created.take() else {
            return;
        };
        if !cx.failed {
            return;
        }
        cx.ui
            .say("Deleting the snapshot because of cancellation or error...");
        let params = Params::new()
            .set("SnapshotId", id.as_str())
            .set("Force", "true");
        if let Err(e) = state
            .ecs
            .delete("DeleteSnapshot", &params, SNAPSHOT_NOT_FOUND)
            .await
        {
            cx.ui.error(&format!(
                "Error deleting snapshot, it may still be around: {e}"
            ));
        }
    }
}
