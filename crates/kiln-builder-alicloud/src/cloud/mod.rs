//! The alicloud-ecs side of kiln-cloud's generic steps: [`Ecs`], the ECS
//! client of one region with what the calls need from the config (the
//! instance type, for the vSwitch's zone; whether stops are forced),
//! implements the toolkit's `…Api` traits (one file per family), and
//! [`crate::AlicloudState`] their `…State` traits. Packer 1.6.6's Go SDK
//! sends the VPC, vSwitch and EIP actions to the ECS API (2014-05-26), and
//! so does kiln. Holds a client only; the steps' cleanups delete what
//! they made.

pub mod image;
pub mod instance;
pub mod key_pair;
pub mod network;

use std::collections::BTreeMap;

use kiln_cloud::ApiError;
use serde_json::Value;

use crate::client::{Client, Params};

/// The ECS client of one region, with the config the calls need.
#[derive(Clone, Debug)]
pub struct Ecs {
    /// The signed client.
    pub client: Client,
    /// `instance_type`: the temporary vSwitch goes in a zone offering it.
    pub instance_type: String,
    /// `force_stop_instance`.
    pub force_stop: bool,
}

impl Ecs {
    /// The ECS client of `region` with `key`, through `endpoint` (a URL)
    /// when given, under the default retry policy and timeouts; for
    /// callers outside a build (`kiln cleanup`, tests), which launch
    /// nothing.
    pub fn connect(
        region: &str,
        key: crate::client::AccessKey,
        endpoint: Option<&str>,
    ) -> Result<Ecs, crate::client::ClientError> {
        let client = Client::new(
            crate::client::Product::Ecs,
            region,
            key,
            endpoint,
            kiln_cloud::RetryPolicy::default(),
            kiln_cloud::Timeouts::from_env(),
        )?;
        Ok(Ecs {
            client,
            instance_type: String::new(),
            force_stop: true,
        })
    }

    /// The same, in `region` (region copies).
    pub fn for_region(&self, region: &str) -> Ecs {
        Ecs {
            client: self.client.for_region(region),
            ..self.clone()
        }
    }

    /// The region.
    pub fn region(&self) -> &str {
        self.client.region()
    }

    /// Calls `action` with `params`; the reply as JSON.
    pub async fn call(&self, action: &str, params: &Params) -> Result<Value, ApiError> {
        self.client.call::<Value>(action, params, None).await
    }

    /// Deletes with `action`; a resource already gone (`not_found`) is done.
    pub async fn delete(
        &self,
        action: &str,
        params: &Params,
        not_found: &[&str],
    ) -> Result<(), ApiError> {
        let r = self.client.delete::<Value>(action, params, not_found, None);
        kiln_cloud::retry::deleted(r.await, not_found)
    }
}

/// A fresh `ClientToken`: the same on every retry of one create, so a
/// create whose reply was lost is not made twice.
pub fn client_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The `Description` of what cannot carry tags (the VPC and vSwitch on
/// ECS's 2014-05-26 API): the run tags as `kiln:run=<uuid> kiln:build=<name>`
/// (`None` without run tags). [`described_run`] reads it back.
pub fn run_description(tags: &[(String, String)]) -> Option<String> {
    if tags.is_empty() {
        return None;
    }
    let mut sorted: Vec<&(String, String)> = tags.iter().collect();
    // `kiln:run` first: the build name may hold spaces.
    sorted.sort_by_key(|(k, _)| k != kiln_sdk::run_tags::RUN);
    Some(
        sorted
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The run a [`run_description`] names, if `description` is one.
pub fn described_run(description: &str) -> Option<&str> {
    description
        .split_whitespace()
        .next()?
        .strip_prefix(kiln_sdk::run_tags::RUN)?
        .strip_prefix('=')
        .filter(|r| !r.is_empty())
}

/// `tags` as the `Tag.N.Key` map.
pub fn tag_map(tags: &[(String, String)]) -> BTreeMap<String, String> {
    tags.iter().cloned().collect()
}

/// The objects of a paged list reply (`reply[outer][inner]`).
pub fn items<'a>(reply: &'a Value, outer: &str, inner: &str) -> &'a [Value] {
    reply[outer][inner]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The string field `key` of `v` (empty when missing).
pub fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// A JSON array of strings, as list parameters like `InstanceIds` take.
pub fn json_list(values: &[&str]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".into())
}

/// Packer's cleanup line for `module`: deleting because the build failed
/// or was cancelled, else cleaning up.
pub fn cleanup_line(module: &str, failed: bool) -> String {
    if failed {
        format!("Deleting {module} because of cancellation or error...")
    } else {
        format!("Cleaning up '{module}'")
    }
}

/// An error of `action` found by kiln in the reply (not the service's).
pub fn reply_error(ecs: &Ecs, action: &str, message: String) -> ApiError {
    ApiError {
        service: "ECS".into(),
        action: action.into(),
        endpoint: ecs.client.api().endpoint().to_string(),
        setting: None,
        fault: kiln_cloud::Fault::new(
            kiln_cloud::Failure::Other(message),
            kiln_cloud::ErrorClass::Permanent,
        ),
        attempts: 1,
        elapsed: std::time::Duration::ZERO,
    }
}

#[cfg(test)]
mod tests;
