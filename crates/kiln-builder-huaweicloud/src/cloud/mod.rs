//! Huawei Cloud's side of kiln-cloud's generic steps: [`Hw`] (the client
//! of the build's region and project) implements `KeyPairApi`
//! (`key_pair`), `NetworkApi` and `SecurityGroupApi` (`network`),
//! `InstanceApi` (`instance`) and `ImageApi` (`image`), each in Huawei's
//! plugin's wording; [`wait_job`] polls ECS's and IMS's asynchronous jobs.
//! Holds the client only; nothing to clean up.
//!
//! Apart from the job polling and the paths, these are OpenStack's calls
//! (Nova key pairs, server states, Glance images and members): the shape
//! kiln's `openstack` builder will share.

pub mod image;
pub mod instance;
pub mod key_pair;
pub mod network;

use kiln_cloud::{CheckError, PollError, Poller, Status};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::client::{Call, Client};
use crate::config::Service;

/// The client of the build's region and project, with the run tags.
#[derive(Clone, Debug)]
pub struct Hw {
    /// The client.
    pub client: Client,
}

/// `v[k]` as a string (`""` when absent).
pub fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or("").to_string()
}

/// The run tags as Huawei's `{"key", "value"}` list.
pub fn tag_list(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
            .collect(),
    )
}

/// Waits until job `job_id` of `service` (ECS and IMS both serve
/// `/v1/{project_id}/jobs/{job_id}`) succeeds; its last answer. A job
/// that fails ends the wait with its `fail_reason`.
pub async fn wait_job(
    client: &Client,
    service: Service,
    job_id: &str,
    what: &str,
    poller: &Poller,
    cancel: &CancellationToken,
) -> Result<Value, PollError<CheckError>> {
    let call = Call::get(
        service,
        "ShowJob",
        client.path("/v1", &format!("/jobs/{job_id}")),
    );
    let call = &call;
    poller
        .wait(what, cancel, || async move {
            let job = client
                .call(call, Some(cancel))
                .await
                .map_err(CheckError::from)?;
            match job["status"].as_str().unwrap_or("") {
                "SUCCESS" => Ok(Status::Ready(job)),
                "FAIL" => Err(CheckError::Failed(format!(
                    "the job `{job_id}` failed: {}",
                    job["fail_reason"].as_str().unwrap_or("no reason given")
                ))),
                s => Ok(Status::Pending(s.to_string())),
            }
        })
        .await
}
