//! The instance calls of kiln-cloud's generic steps on UCloud: create a
//! UHost (`CreateUHostInstance`, with its EIP), look at it (a UHost is
//! running for the steps once its boot disk is ready too), stop it
//! (`StopUHostInstance`, nothing when stopped already) and terminate it
//! (stopped first, as UCloud requires, then `TerminateUHostInstance`
//! releasing its EIP and disks). The plugin's wording. Holds nothing.

use async_trait::async_trait;
use kiln_cloud::steps::call_error;
use kiln_cloud::steps::instance::{InstanceApi, InstanceWording, Launched, Observed, Phase, Text};
use kiln_cloud::{ApiError, CheckError, Poller, Status};
use kiln_sdk::step::StepError;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::{UHost, Uhost};
use crate::client::Params;

/// The plugin's words for the instance steps.
pub const WORDING: InstanceWording = InstanceWording {
    noun: "instance",
    cloud: "UCloud",
    launched: &[],
    starting: &[],
    start_failed: "Error on starting instance {id}: {error}",
    waiting_running: &[Text::Message(
        "Waiting for instance \"{id}\" to become available...",
    )],
    stopping: &[Text::Say("Stopping instance \"{id}\"")],
    stop_failed: "Error on stopping instance \"{id}\": {error}",
    stop_by_provisioner: &[],
    waiting_stopped: &[],
    terminating: &[Text::Say("Deleting instance...")],
    terminate_failed: "Error on deleting instance \"{id}\", it may still be around: {error}",
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Created {
    #[serde(rename = "UHostIds", default)]
    uhost_ids: Vec<String>,
}

/// UCloud's UHost states as the steps' phases.
pub fn phase(h: &UHost) -> Phase {
    match h.state.as_str() {
        "Running" if h.boot_disk_state.is_empty() || h.boot_disk_state == "Normal" => {
            Phase::Running
        }
        "Initializing" | "Starting" | "Running" | "Rebooting" => Phase::Starting,
        "Stopping" => Phase::Stopping,
        "Stopped" => Phase::Stopped,
        "Deleting" => Phase::Terminating,
        _ => Phase::Failed,
    }
}

#[async_trait]
impl InstanceApi for Uhost {
    type Launch = Params;
    type Instance = UHost;

    async fn create(
        &self,
        launch: &Params,
        cancel: &CancellationToken,
    ) -> Result<Launched<UHost>, StepError> {
        // A retry after a lost reply adopts the UHost the earlier attempt
        // made: the build's run tag finds it.
        let created: Created = self
            .client
            .create("CreateUHostInstance", launch, Some(cancel), || async {
                let found = self.tagged_uhosts().await?;
                Ok(found.into_iter().next().map(|h| Created {
                    uhost_ids: vec![h.uhost_id],
                }))
            })
            .await
            .map_err(|e| call_error(cancel, format!("Error on creating instance: {e}")))?;
        let id = created.uhost_ids.into_iter().next().ok_or_else(|| {
            StepError::msg("Error on creating instance: UCloud returned no UHost id")
        })?;
        Ok(Launched { id, instance: None })
    }

    async fn observe(&self, id: &str) -> Result<Option<Observed<UHost>>, CheckError> {
        Ok(self.uhost(id).await?.map(|h| {
            let phase = phase(&h);
            let state = if h.state == "Running" && phase == Phase::Starting {
                format!("Running, boot disk {}", h.boot_disk_state)
            } else {
                h.state.clone()
            };
            Observed {
                phase,
                state,
                reason: None,
                instance: h,
            }
        }))
    }

    async fn stop(&self, id: &str) -> Result<(), ApiError> {
        if let Some(h) = self.uhost(id).await? {
            if matches!(h.state.as_str(), "Stopped" | "Stopping") {
                return Ok(());
            }
        }
        let stopped = self
            .client
            .call::<serde_json::Value>(
                "StopUHostInstance",
                &crate::client::params([("UHostId", id)]),
                None,
            )
            .await;
        match stopped {
            Ok(_) => Ok(()),
            // A retry after a lost reply meets the UHost stopping already.
            Err(e) => match self.uhost(id).await {
                Ok(Some(h)) if matches!(h.state.as_str(), "Stopping" | "Stopped") => Ok(()),
                _ => Err(e),
            },
        }
    }

    async fn terminate(&self, id: &str) -> Result<(), ApiError> {
        let Some(h) = self.uhost(id).await? else {
            return Ok(());
        };
        if h.state != "Stopped" && h.state != "Deleting" {
            self.stop(id).await?;
            // UCloud terminates stopped UHosts only.
            let poller = Poller::tracking(
                std::time::Duration::from_secs(600),
                std::time::Duration::from_millis(200),
                std::time::Duration::from_secs(5),
            );
            let r = poller
                .wait(
                    &format!("instance ({id}) to stop"),
                    &CancellationToken::new(),
                    || async move {
                        match self.uhost(id).await? {
                            None => Ok(Status::Ready(())),
                            Some(h) if h.state == "Stopped" => Ok(Status::Ready(())),
                            Some(h) if h.state == "Running" => {
                                // A stop sent while it was still starting.
                                self.stop(id).await?;
                                Ok(Status::Pending(h.state))
                            }
                            Some(h) => Ok(Status::Pending(h.state)),
                        }
                    },
                )
                .await;
            if let Err(kiln_cloud::PollError::Failed {
                error: CheckError::Api(e),
                ..
            }) = r
            {
                return Err(e);
            }
        }
        let p = crate::client::params([
            ("UHostId", id),
            ("ReleaseEIP", "true"),
            ("ReleaseUDisk", "true"),
        ]);
        self.client
            .delete("TerminateUHostInstance", &p, &["8039"])
            .await
    }

    fn wording(&self) -> &InstanceWording {
        &WORDING
    }
}
