//! What `kiln cleanup -run <uuid> -cloud=tencentcloud` does: finds in each
//! given region what a tencentcloud-cvm build of that run left behind (a
//! SIGKILLed kiln runs no cleanup) and deletes it, in an order CVM and VPC
//! accept: instances (terminated, and waited for until gone), images
//! (unshared first), key pairs, security groups, subnets, then VPCs.
//!
//! Everything a build makes carries kiln's run tags (`kiln:run` = the run's
//! `PACKER_RUN_UUID`; a successful build takes them off its images,
//! [`crate::cloud::image::release`]) and is found by the `tag:kiln:run`
//! filter; every answer is checked again on the client side, so an
//! endpoint that ignores a filter cannot get anything else deleted. Every
//! call goes through kiln-cloud's retry policy (the builder's client);
//! what is gone already counts as deleted, so running it twice is
//! harmless. Holds nothing.

use std::time::Duration;

use kiln_cloud::steps::image::ImageApi;
use kiln_cloud::steps::instance::InstanceApi;
use kiln_cloud::steps::network::{NetworkApi, NetworkResource, SecurityGroupApi};
use kiln_cloud::{ApiError, CheckError, Poller, Status};
use kiln_sdk::run_tags;
use kiln_sdk::{Secret, Ui};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::client::Credential;
use crate::cloud::{items, text, Cvm};

/// Why a cleanup did not finish.
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    /// No credentials in the environment.
    #[error("no Tencent Cloud credentials: set TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (and TENCENTCLOUD_SECURITY_TOKEN for temporary credentials)")]
    NoCredentials,
    /// The client could not be made.
    #[error("{0}")]
    Client(#[from] crate::client::ClientError),
    /// Some resources could not be listed or deleted; every other one was.
    #[error("{} resource(s) of run `{run}` could not be cleaned up:\n  {}", .failures.len(), .failures.join("\n  "))]
    Failed {
        /// The run.
        run: String,
        /// What failed, one line each.
        failures: Vec<String>,
    },
}

/// The credential from `TENCENTCLOUD_SECRET_ID`, `TENCENTCLOUD_SECRET_KEY`
/// and `TENCENTCLOUD_SECURITY_TOKEN`, as `env` reads them.
pub fn credential_from_env(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Credential, CleanupError> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    match (
        get("TENCENTCLOUD_SECRET_ID"),
        get("TENCENTCLOUD_SECRET_KEY"),
    ) {
        (Some(secret_id), Some(key)) => Ok(Credential {
            secret_id,
            secret_key: Secret::new(key),
            token: get("TENCENTCLOUD_SECURITY_TOKEN").map(Secret::new),
        }),
        _ => Err(CleanupError::NoCredentials),
    }
}

/// The kinds of resources, in the order they are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Instance,
    Image,
    KeyPair,
    SecurityGroup,
    Subnet,
    Vpc,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Instance,
        Kind::Image,
        Kind::KeyPair,
        Kind::SecurityGroup,
        Kind::Subnet,
        Kind::Vpc,
    ];

    /// The noun, the list call, its service, the reply's set, the id key
    /// and the tags key.
    fn describe(
        self,
    ) -> (
        &'static str,
        &'static str,
        bool,
        &'static str,
        &'static str,
        &'static str,
    ) {
        match self {
            Kind::Instance => (
                "instance",
                "DescribeInstances",
                true,
                "InstanceSet",
                "InstanceId",
                "Tags",
            ),
            Kind::Image => (
                "image",
                "DescribeImages",
                true,
                "ImageSet",
                "ImageId",
                "Tags",
            ),
            Kind::KeyPair => (
                "key pair",
                "DescribeKeyPairs",
                true,
                "KeyPairSet",
                "KeyId",
                "Tags",
            ),
            Kind::SecurityGroup => (
                "security group",
                "DescribeSecurityGroups",
                false,
                "SecurityGroupSet",
                "SecurityGroupId",
                "TagSet",
            ),
            Kind::Subnet => (
                "subnet",
                "DescribeSubnets",
                false,
                "SubnetSet",
                "SubnetId",
                "TagSet",
            ),
            Kind::Vpc => ("VPC", "DescribeVpcs", false, "VpcSet", "VpcId", "TagSet"),
        }
    }
}

/// Whether `item`'s tags (`tags_key`) name `run`.
fn tagged(item: &Value, tags_key: &str, run: &str) -> bool {
    items(item, tags_key)
        .iter()
        .any(|t| text(t, "Key") == run_tags::RUN && text(t, "Value") == run)
}

/// The ids of `kind` in `cvm`'s region that carry `run`.
async fn list(cvm: &Cvm, kind: Kind, run: &str) -> Result<Vec<String>, ApiError> {
    let (_, action, on_cvm, set, id, tags) = kind.describe();
    let body = json!({
        "Filters": [{"Name": format!("tag:{}", run_tags::RUN), "Values": [run]}],
        "Limit": 100,
    });
    let client = if on_cvm { &cvm.cvm } else { &cvm.vpc };
    let reply = client.call(action, &body, None).await?;
    Ok(items(&reply, set)
        .iter()
        .filter(|i| tagged(i, tags, run))
        .map(|i| text(i, id).to_string())
        .collect())
}

/// Deletes `kind` `id`; what is gone already is deleted.
async fn delete(cvm: &Cvm, kind: Kind, id: &str) -> Result<(), String> {
    let e = |e: ApiError| e.to_string();
    match kind {
        Kind::Instance => {
            cvm.terminate(id).await.map_err(e)?;
            let poller = Poller::tracking(
                Duration::from_secs(900),
                Duration::from_millis(200),
                Duration::from_secs(10),
            );
            poller
                .wait(
                    &format!("instance ({id}) to terminate"),
                    &CancellationToken::new(),
                    || async move {
                        match cvm.observe(id).await? {
                            None => Ok(Status::Ready(())),
                            Some(o) => Ok::<_, CheckError>(Status::Pending(o.state)),
                        }
                    },
                )
                .await
                .map_err(|e| e.to_string())
        }
        Kind::Image => cvm.delete_image(id).await.map_err(e),
        Kind::KeyPair => cvm
            .cvm
            .delete(
                "DeleteKeyPairs",
                &json!({ "KeyIds": [id] }),
                &["InvalidKeyPairId.NotFound"],
            )
            .await
            .map_err(e),
        Kind::SecurityGroup => retry_in_use(|| cvm.delete_security_group(id)).await,
        Kind::Subnet => retry_in_use(|| cvm.delete(NetworkResource::Subnet, id)).await,
        Kind::Vpc => retry_in_use(|| cvm.delete(NetworkResource::Network, id)).await,
    }
}

/// Calls `delete` until it succeeds or fails otherwise than with
/// `ResourceInUse` (what was in it may still be going), a few times.
async fn retry_in_use<F, Fut>(mut delete: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let mut n = 0u64;
    loop {
        match delete().await {
            Err(e) if e.is(&["ResourceInUse"]) && n < 10 => {
                n += 1;
                tokio::time::sleep(Duration::from_millis(500 * n)).await;
            }
            r => return r.map_err(|e| e.to_string()),
        }
    }
}

/// Finds what run `run` left in each of `regions` and deletes it (only
/// lists it with `dry_run`), reporting on `ui`; how many resources it
/// found.
pub async fn find_and_delete(
    run: &str,
    regions: &[String],
    credential: Credential,
    endpoint: Option<&str>,
    dry_run: bool,
    ui: &dyn Ui,
) -> Result<usize, CleanupError> {
    let mut found = 0;
    let mut failures = Vec::new();
    for region in regions {
        let cvm = Cvm::new(region, "", credential.clone(), endpoint)?;
        for kind in Kind::ALL {
            let noun = kind.describe().0;
            let ids = match list(&cvm, kind, run).await {
                Ok(ids) => ids,
                Err(e) => {
                    failures.push(format!("listing {noun}s in `{region}`: {e}"));
                    continue;
                }
            };
            for id in ids {
                found += 1;
                if dry_run {
                    ui.message(&format!("Would delete {noun} {id} ({region})"));
                    continue;
                }
                ui.message(&format!("Deleting {noun} {id} ({region})"));
                if let Err(e) = delete(&cvm, kind, &id).await {
                    failures.push(format!("{noun} `{id}` in `{region}`: {e}"));
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(found)
    } else {
        Err(CleanupError::Failed {
            run: run.to_string(),
            failures,
        })
    }
}
