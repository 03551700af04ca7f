//! The project of a build whose template names none (`project_id` and
//! `HW_PROJECT_ID` unset): IAM's `KeystoneListProjects`
//! (`GET /v3/projects?name=<project_name>`, the project named as the
//! region unless `project_name` or `HW_PROJECT_NAME` says otherwise),
//! signed with the account's credentials (no project), asked once when the
//! build starts; the plugin asks in its `AccessConfig.Prepare`, at
//! validation, which kiln keeps off the network. Holds nothing; creates
//! nothing.

use kiln_cloud::{ApiError, RetryPolicy};
use tokio_util::sync::CancellationToken;

use crate::client::{Call, Client, ClientError};
use crate::cloud::text;
use crate::config::{AccessConfig, Service};

/// Why the project could not be found.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The client could not be made.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// IAM failed.
    #[error("error looking up the project `{name}` through IAM: {error}")]
    Api {
        /// `project_name`.
        name: String,
        /// IAM's answer.
        error: Box<ApiError>,
    },
    /// IAM knows no project of that name.
    #[error("can not find the project ID of `{0}` through IAM\n  hint: set `project_id`, or `project_name` to a project of the account (its region's name by default)")]
    NotFound(String),
}

/// `access` with its project: as it is when it names one, else the one
/// IAM lists under `project_name`.
pub async fn resolve(
    access: &AccessConfig,
    policy: RetryPolicy,
    cancel: &CancellationToken,
) -> Result<AccessConfig, ProjectError> {
    if !access.project_id.is_empty() {
        return Ok(access.clone());
    }
    let client = Client::new(access, policy)?;
    let name = &access.project_name;
    let call =
        Call::get(Service::Iam, "KeystoneListProjects", "/v3/projects").query("name", name.clone());
    let v = client
        .call(&call, Some(cancel))
        .await
        .map_err(|error| ProjectError::Api {
            name: name.clone(),
            error: Box::new(error),
        })?;
    // The plugin takes the first; the name is checked again, so an IAM
    // that ignores the filter cannot put the build in another project.
    let id = v["projects"]
        .as_array()
        .and_then(|p| p.iter().find(|p| text(p, "name") == *name))
        .map(|p| text(p, "id"))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ProjectError::NotFound(name.clone()))?;
    Ok(AccessConfig {
        project_id: id,
        ..access.clone()
    })
}
