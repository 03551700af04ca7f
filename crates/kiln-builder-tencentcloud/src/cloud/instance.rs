//! tencentcloud-cvm's side of kiln-cloud's instance family
//! ([`kiln_cloud::steps::instance`]): `RunInstances` with a
//! `ClientToken` (CVM starts the instance itself), `DescribeInstances`
//! (RUNNING only once its `LatestOperationState` is no longer
//! `OPERATING`), `StopInstances` and `TerminateInstances` (retried while
//! another operation runs on the instance), and Packer's tencentcloud
//! wording. The launch request is built by `steps::run_instance`. Holds
//! nothing; the step's cleanup terminates the instance.

use async_trait::async_trait;
use kiln_cloud::steps::instance::{InstanceApi, InstanceWording, Launched, Observed, Phase, Text};
use kiln_cloud::{ApiError, CheckError};
use kiln_sdk::step::StepError;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{items, text, Cvm};
use crate::TencentState;

const NOT_FOUND: &[&str] = &["InvalidInstanceId.NotFound"];

/// Packer's tencentcloud wording for the instance steps.
pub const WORDING: InstanceWording = InstanceWording {
    noun: "instance",
    cloud: "CVM",
    launched: &[
        Text::Message("Waiting for instance ready"),
        Text::Message("Instance created: {id}"),
    ],
    starting: &[],
    start_failed: "Failed to start instance: {error}",
    waiting_running: &[],
    stopping: &[Text::Say("Trying to stop instance: {id}...")],
    stop_failed: "Failed to stop instance: {error}",
    stop_by_provisioner: &[Text::Say("Waiting for the instance to stop: {id}")],
    waiting_stopped: &[],
    terminating: &[Text::Say("Cleaning up instance...")],
    terminate_failed: "Failed to terminate instance, may need to delete it manually: {id}: {error}",
};

/// The phase of a CVM instance from its `InstanceState` and whether an
/// operation still runs on it (`LatestOperationState` `OPERATING`).
pub fn phase(state: &str, operating: bool) -> Phase {
    match state {
        "RUNNING" if operating => Phase::Starting,
        "RUNNING" => Phase::Running,
        "PENDING" | "STARTING" | "REBOOTING" | "" => Phase::Starting,
        "STOPPING" => Phase::Stopping,
        "STOPPED" if operating => Phase::Stopping,
        "STOPPED" => Phase::Stopped,
        "SHUTDOWN" | "TERMINATING" => Phase::Terminating,
        _ => Phase::Failed,
    }
}

#[async_trait]
impl InstanceApi for Cvm {
    type Launch = Value;
    type Instance = Value;

    async fn create(
        &self,
        launch: &Value,
        _cancel: &CancellationToken,
    ) -> Result<Launched<Value>, StepError> {
        // CVM honours the token: a retry after a lost reply answers with
        // the instance the first attempt made.
        let mut body = launch.clone();
        body["ClientToken"] = uuid::Uuid::new_v4().to_string().into();
        let reply = self
            .cvm
            .create("RunInstances", &body, &[], false, || async { Ok(None) })
            .await
            .map_err(|e| StepError::msg(format!("create instance failed: {e}")))?;
        let ids = items(&reply, "InstanceIdSet");
        if ids.len() != 1 {
            return Err(StepError::msg(format!(
                "create instance failed: {} instance(s) created",
                ids.len()
            )));
        }
        Ok(Launched {
            id: ids[0].as_str().unwrap_or_default().to_string(),
            instance: None,
        })
    }

    async fn observe(&self, id: &str) -> Result<Option<Observed<Value>>, CheckError> {
        let reply = self
            .cvm
            .call("DescribeInstances", &json!({ "InstanceIds": [id] }), None)
            .await?;
        let Some(i) = items(&reply, "InstanceSet")
            .iter()
            .find(|i| text(i, "InstanceId") == id)
        else {
            return Ok(None);
        };
        let state = text(i, "InstanceState").to_string();
        let operating = text(i, "LatestOperationState") == "OPERATING";
        Ok(Some(Observed {
            phase: phase(&state, operating),
            reason: operating.then(|| format!("`{}` in progress", text(i, "LatestOperation"))),
            state,
            instance: i.clone(),
        }))
    }

    async fn stop(&self, id: &str) -> Result<(), ApiError> {
        self.cvm
            .call("StopInstances", &json!({ "InstanceIds": [id] }), None)
            .await
            .map(drop)
    }

    async fn terminate(&self, id: &str) -> Result<(), ApiError> {
        self.cvm
            .delete(
                "TerminateInstances",
                &json!({ "InstanceIds": [id] }),
                NOT_FOUND,
            )
            .await
    }

    fn wording(&self) -> &InstanceWording {
        &WORDING
    }
}

kiln_cloud::impl_instance_state!(TencentState, cvm: Cvm);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_runs_once_its_operation_is_done() {
        assert_eq!(phase("PENDING", true), Phase::Starting);
        assert_eq!(phase("RUNNING", true), Phase::Starting);
        assert_eq!(phase("RUNNING", false), Phase::Running);
        assert_eq!(phase("STOPPED", true), Phase::Stopping);
        assert_eq!(phase("STOPPED", false), Phase::Stopped);
        assert_eq!(phase("TERMINATING", false), Phase::Terminating);
        assert_eq!(phase("LAUNCH_FAILED", false), Phase::Failed);
    }
}
