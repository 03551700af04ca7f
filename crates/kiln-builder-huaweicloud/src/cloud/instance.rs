//! `InstanceApi` on [`Hw`]: the source server is created with
//! `CreatePostPaidServers` (its id comes back at once, with a job; on a
//! retry after a lost reply the server carrying the build's run tags is
//! adopted), watched with `ShowServer` (BUILD, ACTIVE, SHUTOFF, ERROR as
//! OpenStack has them; 404 is gone), stopped with `BatchStopServers` (409:
//! already stopped) and deleted with `DeleteServers` with its volumes (404:
//! gone). The lines are the plugin's.

use async_trait::async_trait;
use kiln_cloud::steps::call_error;
use kiln_cloud::steps::instance::{
    nova_phase, InstanceApi, InstanceWording, Launched, Observed, Phase, Text,
};
use kiln_cloud::{ApiError, CheckError};
use kiln_sdk::step::StepError;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{text, Hw};
use crate::client::{not_found, status, Call};
use crate::config::Service;

/// The plugin's wording.
pub const WORDING: InstanceWording = InstanceWording {
    noun: "server",
    cloud: "ECS",
    launched: &[Text::Message("Server ID: {id}")],
    starting: &[],
    start_failed: "error starting server: {error}",
    waiting_running: &[Text::Message("Waiting for server to become ready...")],
    stopping: &[Text::Say("Stopping server: {id} ...")],
    stop_failed: "error stopping server: {error}",
    stop_by_provisioner: &[Text::Say(
        "Automatic server stop disabled. Please stop server manually.",
    )],
    waiting_stopped: &[Text::Message("Waiting for server to stop: {id} ...")],
    terminating: &[Text::Say("Terminating the source server: {id}...")],
    terminate_failed: "Error terminating server, may still be around: {error}",
};

/// Where a server is: ECS's states are Nova's.
pub fn phase(server: &Value) -> Phase {
    nova_phase(
        &text(server, "status"),
        &text(server, "OS-EXT-STS:task_state"),
    )
}

#[async_trait]
impl InstanceApi for Hw {
    /// The `server` object of `CreatePostPaidServers`, with the run tags
    /// in `server_tags`.
    type Launch = Value;
    /// `ShowServer`'s `server`.
    type Instance = Value;

    async fn create(
        &self,
        launch: &Value,
        cancel: &CancellationToken,
    ) -> Result<Launched<Value>, StepError> {
        let c = &self.client;
        let call = Call::post(
            Service::Ecs,
            "CreatePostPaidServers",
            c.path("/v1", "/cloudservers"),
            json!({"server": launch}),
        );
        // The run tags find a server whose create reply was lost.
        let tag = launch["server_tags"][0].clone();
        let name = text(launch, "name");
        let (tag, name) = (&tag, &name);
        let created = c
            .create(&call, || async move {
                let list = Call::get(
                    Service::Ecs,
                    "ListServersDetails",
                    c.path("/v1", "/cloudservers/detail"),
                )
                .query(
                    "tags",
                    format!("{}={}", text(tag, "key"), text(tag, "value")),
                )
                .query("name", name.clone());
                let v = c.call(&list, None).await.map_err(|e| e.fault)?;
                Ok(v["servers"]
                    .as_array()
                    .and_then(|a| a.first())
                    .map(|s| json!({"serverIds": [s["id"]]})))
            })
            .await;
        let v = created
            .map_err(|e| call_error(cancel, format!("error launching source server: {e}")))?;
        let id = v["serverIds"][0]
            .as_str()
            .ok_or_else(|| StepError::msg(format!("ECS returned no server id: {v}")))?;
        Ok(Launched {
            id: id.to_string(),
            instance: None,
        })
    }

    async fn observe(&self, id: &str) -> Result<Option<Observed<Value>>, CheckError> {
        let c = &self.client;
        let call = Call::get(
            Service::Ecs,
            "ShowServer",
            c.path("/v1", &format!("/cloudservers/{id}")),
        );
        let server = match c.call(&call, None).await {
            Ok(v) => v["server"].clone(),
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(Some(Observed {
            phase: phase(&server),
            state: text(&server, "status"),
            reason: server["fault"]["message"].as_str().map(String::from),
            instance: server,
        }))
    }

    async fn stop(&self, id: &str) -> Result<(), ApiError> {
        let c = &self.client;
        let call = Call::post(
            Service::Ecs,
            "BatchStopServers",
            c.path("/v1", "/cloudservers/action"),
            json!({"os-stop": {"type": "SOFT", "servers": [{"id": id}]}}),
        );
        match c.call(&call, None).await {
            Ok(_) => Ok(()),
            // The server might have been shut down already (Windows' sysprep).
            Err(e) if status(&e) == Some(409) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn terminate(&self, id: &str) -> Result<(), ApiError> {
        let c = &self.client;
        c.delete(&Call::post(
            Service::Ecs,
            "DeleteServers",
            c.path("/v1", "/cloudservers/delete"),
            json!({"servers": [{"id": id}], "delete_volume": true, "delete_publicip": false}),
        ))
        .await
    }

    fn wording(&self) -> &InstanceWording {
        &WORDING
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openstack_states_map_onto_the_phases() {
        let s = |status: &str, task: &str| json!({"status": status, "OS-EXT-STS:task_state": task});
        assert_eq!(phase(&s("BUILD", "spawning")), Phase::Starting);
        assert_eq!(phase(&s("ACTIVE", "")), Phase::Running);
        assert_eq!(phase(&s("ACTIVE", "powering-off")), Phase::Stopping);
        assert_eq!(phase(&s("SHUTOFF", "")), Phase::Stopped);
        assert_eq!(phase(&s("SHUTOFF", "deleting")), Phase::Terminating);
        assert_eq!(phase(&s("ERROR", "")), Phase::Failed);
        assert_eq!(phase(&s("DELETED", "")), Phase::Terminated);
    }
}
