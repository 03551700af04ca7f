//! `InstanceApi` on [`Os`]: the source server is created with Nova's
//! `POST /servers` (on a retry after a lost reply, the server of that name
//! carrying the build's run tags in its metadata is adopted), watched with
//! `GET /servers/{id}` (Nova's states, 404 is gone), stopped with the
//! `os-stop` action (409: already stopped, as after Windows' sysprep) and
//! deleted with `DELETE /servers/{id}`, or the `forceDelete` action with
//! `force_delete` (404 is gone). The lines are Packer's.

use async_trait::async_trait;
use kiln_cloud::steps::call_error;
use kiln_cloud::steps::instance::{
    nova_phase, InstanceApi, InstanceWording, Launched, Observed, Text,
};
use kiln_cloud::{ApiError, CheckError};
use kiln_sdk::step::StepError;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{carries, text, Os};
use crate::client::{not_found, status, Call, Service};

/// Packer's wording.
pub const WORDING: InstanceWording = InstanceWording {
    noun: "server",
    cloud: "Nova",
    launched: &[Text::Message("Server ID: {id}")],
    starting: &[],
    start_failed: "Error starting server: {error}",
    waiting_running: &[Text::Say("Waiting for server to become ready...")],
    stopping: &[Text::Say("Stopping server: {id} ...")],
    stop_failed: "Error stopping server: {error}",
    stop_by_provisioner: &[Text::Say(
        "Automatic server stop disabled. Please stop server manually.",
    )],
    waiting_stopped: &[Text::Message("Waiting for server to stop: {id} ...")],
    terminating: &[Text::Say("Terminating the source server: {id} ...")],
    terminate_failed: "Error terminating server, may still be around: {error}",
};

#[async_trait]
impl InstanceApi for Os {
    /// The `server` object of `POST /servers` (with the run tags in its
    /// `metadata`), and its `block_device_mapping_v2` when booting from a
    /// volume.
    type Launch = Value;
    /// `GET /servers/{id}`'s `server`.
    type Instance = Value;

    async fn create(
        &self,
        launch: &Value,
        cancel: &CancellationToken,
    ) -> Result<Launched<Value>, StepError> {
        let c = &self.client;
        let call = Call::post(
            Service::Compute,
            "CreateServer",
            "/servers",
            json!({"server": launch}),
        );
        let name = text(launch, "name");
        let tags: Vec<(String, String)> = launch["metadata"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.starts_with("kiln:"))
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let (name, tags) = (&name, &tags);
        let created = c
            .create(&call, || async move {
                if tags.is_empty() {
                    return Ok(None);
                }
                // Nova's `name` filter is a regular expression.
                let list = Call::get(Service::Compute, "ListServers", "/servers/detail")
                    .query("name", format!("^{}$", regex_escape(name)));
                let v = c.call(&list, None).await.map_err(|e| e.fault)?;
                Ok(v["servers"]
                    .as_array()
                    .and_then(|a| a.iter().find(|s| carries(&s["metadata"], tags)))
                    .map(|s| json!({"server": s})))
            })
            .await;
        let v = created
            .map_err(|e| call_error(cancel, format!("Error launching source server: {e}")))?;
        let id = v["server"]["id"]
            .as_str()
            .ok_or_else(|| StepError::msg(format!("Nova returned no server id: {v}")))?;
        Ok(Launched {
            id: id.to_string(),
            instance: None,
        })
    }

    async fn observe(&self, id: &str) -> Result<Option<Observed<Value>>, CheckError> {
        let call = Call::get(Service::Compute, "ShowServer", format!("/servers/{id}"));
        let server = match self.client.call(&call, None).await {
            Ok(v) => v["server"].clone(),
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(Some(Observed {
            phase: nova_phase(
                &text(&server, "status"),
                &text(&server, "OS-EXT-STS:task_state"),
            ),
            state: text(&server, "status"),
            reason: server["fault"]["message"].as_str().map(String::from),
            instance: server,
        }))
    }

    async fn stop(&self, id: &str) -> Result<(), ApiError> {
        let call = Call::post(
            Service::Compute,
            "StopServer",
            format!("/servers/{id}/action"),
            json!({"os-stop": null}),
        );
        match self.client.call(&call, None).await {
            Ok(_) => Ok(()),
            // The server might have been shut down already (Windows' sysprep).
            Err(e) if status(&e) == Some(409) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn terminate(&self, id: &str) -> Result<(), ApiError> {
        let call = if self.force_delete {
            Call::post(
                Service::Compute,
                "ForceDeleteServer",
                format!("/servers/{id}/action"),
                json!({"forceDelete": null}),
            )
        } else {
            Call::delete(Service::Compute, "DeleteServer", format!("/servers/{id}"))
        };
        self.client.delete(&call).await
    }

    fn wording(&self) -> &InstanceWording {
        &WORDING
    }
}

/// `s` with the regular expression's special characters escaped.
pub fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
