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

use async_trait::async_trait;
use kiln_cloud::steps::image::ImageApi;
use kiln_cloud::steps::network::{NetworkApi, NetworkResource, SecurityGroupApi};
use kiln_cloud::sweep::{self, RegionSweep};
use kiln_cloud::ApiError;
use kiln_sdk::run_tags;
use kiln_sdk::{Secret, Ui};
use serde_json::{json, Value};

use crate::client::Credential;
use crate::cloud::{items, text, Cvm};

/// Why a cleanup did not finish.
pub type CleanupError = kiln_cloud::sweep::CleanupError<crate::client::ClientError>;

/// No credentials in the environment.
const NO_CREDENTIALS: CleanupError = CleanupError::NoCredentials {
    cloud: "Tencent Cloud",
    needed: "TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY (and TENCENTCLOUD_SECURITY_TOKEN for temporary credentials)",
};

/// The credential from `TENCENTCLOUD_SECRET_ID`, `TENCENTCLOUD_SECRET_KEY`
/// and `TENCENTCLOUD_SECURITY_TOKEN`, as `env` reads them.
pub fn credential_from_env(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Credential, CleanupError> {
    let [secret_id, key] =
        sweep::env_all(env, ["TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"])
            .ok_or(NO_CREDENTIALS)?;
    Ok(Credential {
        secret_id,
        secret_key: Secret::new(key),
        token: sweep::env_value(env, "TENCENTCLOUD_SECURITY_TOKEN").map(Secret::new),
    })
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

/// One region of CVM and VPC, as kiln-cloud's [`sweep`] walks it.
struct Region(Cvm);

#[async_trait]
impl RegionSweep for Region {
    type Kind = Kind;

    fn kinds(&self) -> Vec<Kind> {
        Kind::ALL.to_vec()
    }

    fn noun(&self, kind: Kind) -> &'static str {
        kind.describe().0
    }

    /// The ids of `kind` in the region that carry `run`.
    async fn list(&mut self, kind: Kind, run: &str) -> Result<Vec<String>, String> {
        let (_, action, on_cvm, set, id, tags) = kind.describe();
        let body = json!({
            "Filters": [{"Name": format!("tag:{}", run_tags::RUN), "Values": [run]}],
            "Limit": 100,
        });
        let cvm = &self.0;
        let client = if on_cvm { &cvm.cvm } else { &cvm.vpc };
        let reply = client
            .call(action, &body, None)
            .await
            .map_err(|e| e.to_string())?;
        Ok(items(&reply, set)
            .iter()
            .filter(|i| tagged(i, tags, run))
            .map(|i| text(i, id).to_string())
            .collect())
    }

    async fn delete(&self, kind: Kind, id: &str) -> Result<(), String> {
        let cvm = &self.0;
        let e = |e: ApiError| e.to_string();
        let busy = &["ResourceInUse"];
        match kind {
            Kind::Instance => sweep::terminate_instance(cvm, id, &format!("instance {id}")).await,
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
            Kind::SecurityGroup => {
                sweep::delete_when_free(&format!("security group {id}"), busy, || {
                    cvm.delete_security_group(id)
                })
                .await
            }
            Kind::Subnet => {
                sweep::delete_when_free(&format!("subnet {id}"), busy, || {
                    cvm.delete(NetworkResource::Subnet, id)
                })
                .await
            }
            Kind::Vpc => {
                sweep::delete_when_free(&format!("VPC {id}"), busy, || {
                    cvm.delete(NetworkResource::Network, id)
                })
                .await
            }
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
    let regions = regions
        .iter()
        .map(|r| {
            Ok((
                r.clone(),
                Region(
                    Cvm::new(r, "", credential.clone(), endpoint).map_err(CleanupError::Client)?,
                ),
            ))
        })
        .collect::<Result<Vec<_>, CleanupError>>()?;
    Ok(sweep::sweep(run, regions, dry_run, ui).await?)
}
