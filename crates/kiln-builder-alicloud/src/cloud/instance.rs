//! alicloud-ecs's side of kiln-cloud's instance family
//! ([`kiln_cloud::steps::instance`]): `CreateInstance` with a
//! `ClientToken` (ECS leaves the instance stopped), `StartInstance`,
//! `DescribeInstances`, `StopInstance` (forced with
//! `force_stop_instance`) and `DeleteInstance` with `Force`, and Packer's
//! alicloud wording. The launch request is built by `step_instance`.
//! Holds nothing; `step_instance`'s cleanup deletes the instance.

use async_trait::async_trait;
use kiln_cloud::steps::instance::{InstanceApi, InstanceWording, Launched, Observed, Phase, Text};
use kiln_cloud::{ApiError, CheckError};
use kiln_sdk::step::StepError;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{client_token, items, json_list, text, Ecs};
use crate::client::Params;
use crate::AlicloudState;

const NOT_FOUND: &[&str] = &["InvalidInstanceId.NotFound"];
const INITIALIZING: &[&str] = &["IncorrectInstanceStatus.Initializing"];
/// How often a delete refused while the instance is created is tried.
const INITIALIZING_ATTEMPTS: u64 = 60;

/// Packer's alicloud wording for the instance steps.
pub const WORDING: InstanceWording = InstanceWording {
    noun: "instance",
    cloud: "ECS",
    launched: &[Text::Message("Created instance: {id}")],
    starting: &[Text::Say("Starting instance: {id}")],
    start_failed: "Error starting instance: {error}",
    waiting_running: &[],
    stopping: &[Text::Say("Stopping instance: {id}")],
    stop_failed: "Error stopping alicloud instance: {error}",
    stop_by_provisioner: &[Text::Say("Waiting for the instance to stop: {id}")],
    waiting_stopped: &[Text::Say("Waiting instance stopped: {id}")],
    terminating: &[],
    terminate_failed: "Failed to clean up instance {id}: {error}",
};

#[async_trait]
impl InstanceApi for Ecs {
    type Launch = Params;
    type Instance = Value;

    async fn create(
        &self,
        launch: &Params,
        _cancel: &CancellationToken,
    ) -> Result<Launched<Value>, StepError> {
        // ECS honours the token: a retry after a lost reply answers with
        // the instance the first attempt made.
        let params = launch.clone().set("ClientToken", client_token());
        let find = || async { Ok(None) };
        let reply: Value = self
            .client
            .create("CreateInstance", &params, &[], false, find)
            .await
            .map_err(|e| StepError::msg(format!("Error creating instance: {e}")))?;
        let id = text(&reply, "InstanceId").to_string();
        if id.is_empty() {
            return Err(StepError::msg(
                "Error creating instance: ECS returned no instance id",
            ));
        }
        Ok(Launched { id, instance: None })
    }

    async fn start(&self, id: &str) -> Result<(), ApiError> {
        self.call("StartInstance", &Params::new().set("InstanceId", id))
            .await
            .map(drop)
    }

    fn starts_separately(&self) -> bool {
        true
    }

    async fn observe(&self, id: &str) -> Result<Option<Observed<Value>>, CheckError> {
        let reply = self
            .call(
                "DescribeInstances",
                &Params::new().set("InstanceIds", json_list(&[id])),
            )
            .await?;
        let Some(i) = items(&reply, "Instances", "Instance")
            .iter()
            .find(|i| text(i, "InstanceId") == id)
        else {
            return Ok(None);
        };
        let state = text(i, "Status").to_string();
        let phase = match state.as_str() {
            "Pending" | "Starting" | "" => Phase::Starting,
            "Running" => Phase::Running,
            "Stopping" => Phase::Stopping,
            "Stopped" => Phase::Stopped,
            "Deleted" => Phase::Terminated,
            _ => Phase::Failed,
        };
        Ok(Some(Observed {
            phase,
            state,
            reason: None,
            instance: i.clone(),
        }))
    }

    async fn stop(&self, id: &str) -> Result<(), ApiError> {
        let params = Params::new()
            .set("InstanceId", id)
            .set("ForceStop", self.force_stop.to_string());
        self.call("StopInstance", &params).await.map(drop)
    }

    async fn terminate(&self, id: &str) -> Result<(), ApiError> {
        let params = Params::new().set("InstanceId", id).set("Force", "true");
        // ECS refuses to delete an instance it is still creating (a build
        // cancelled right after `CreateInstance`): wait for it a while.
        let mut n = 0u64;
        loop {
            match self.delete("DeleteInstance", &params, NOT_FOUND).await {
                Err(e) if e.is(INITIALIZING) && n < INITIALIZING_ATTEMPTS => {
                    n += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(500 * n.min(4))).await;
                }
                r => return r,
            }
        }
    }

    fn wording(&self) -> &InstanceWording {
        &WORDING
    }
}

kiln_cloud::impl_instance_state!(AlicloudState, ecs: Ecs);
