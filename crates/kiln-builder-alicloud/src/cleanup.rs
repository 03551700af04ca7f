//! What `kiln cleanup -run <uuid> -cloud=alicloud` does: finds in each
//! given region what an alicloud-ecs build of that run left behind (a
//! SIGKILLed kiln runs no cleanup) and deletes it, in an order ECS
//! accepts: instances (force-deleted, and waited for until gone), the
//! EIPs bound to them, images (with the snapshots they are made of),
//! snapshots, key pairs, security groups, vSwitches, then VPCs.
//!
//! How it finds them: instances, key pairs, security groups, snapshots
//! and images carry kiln's run tags (`kiln:run` = the run's
//! `PACKER_RUN_UUID`; a successful build takes them off its images,
//! [`crate::cloud::image::release`]); the VPC and vSwitch, which ECS's
//! 2014-05-26 API cannot tag, carry them in their `Description`
//! ([`crate::cloud::run_description`]); an EIP is found through the
//! instance it is bound to (one allocated but not yet bound when kiln was
//! killed cannot be told from others, and is left: see
//! docs/builders/alicloud-ecs.md). Every answer is checked again on the
//! client side, so an endpoint that ignores a filter cannot get anything
//! else deleted. Every call goes through kiln-cloud's retry policy (the
//! builder's client); what is gone already counts as deleted, so running
//! it twice is harmless. Holds nothing.

use async_trait::async_trait;
use kiln_cloud::sweep::{self, RegionSweep};
use kiln_cloud::{ApiError, CheckError, Status};
use kiln_sdk::run_tags;
use kiln_sdk::{Secret, Ui};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::client::{AccessKey, Params};
use crate::cloud::image::ALL_STATUSES;
use crate::cloud::{described_run, items, json_list, text, Ecs};

/// Why a cleanup did not finish.
pub type CleanupError = kiln_cloud::sweep::CleanupError<crate::client::ClientError>;

/// No credentials in the environment.
const NO_CREDENTIALS: CleanupError = CleanupError::NoCredentials {
    cloud: "Alibaba Cloud",
    needed: "ALICLOUD_ACCESS_KEY and ALICLOUD_SECRET_KEY (and ALICLOUD_SECURITY_TOKEN for STS credentials)",
};

/// The AccessKey from `ALICLOUD_ACCESS_KEY`, `ALICLOUD_SECRET_KEY` and
/// `ALICLOUD_SECURITY_TOKEN`, as `env` reads them.
pub fn access_key_from_env(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AccessKey, CleanupError> {
    let [id, secret] = sweep::env_all(env, ["ALICLOUD_ACCESS_KEY", "ALICLOUD_SECRET_KEY"])
        .ok_or(NO_CREDENTIALS)?;
    Ok(AccessKey {
        id,
        secret: Secret::new(secret),
        security_token: sweep::env_value(env, "ALICLOUD_SECURITY_TOKEN").map(Secret::new),
    })
}

/// The kinds of resource an alicloud-ecs build makes, in the order they
/// are deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Instance,
    Eip,
    Image,
    Snapshot,
    KeyPair,
    SecurityGroup,
    VSwitch,
    Vpc,
}

/// Every kind, in deletion order: instances first (everything else may
/// be in use by them), their EIPs once unbound, images before the
/// snapshots they are made of, security groups after the instances, the
/// vSwitch before its VPC.
const KINDS: [Kind; 8] = [
    Kind::Instance,
    Kind::Eip,
    Kind::Image,
    Kind::Snapshot,
    Kind::KeyPair,
    Kind::SecurityGroup,
    Kind::VSwitch,
    Kind::Vpc,
];

impl Kind {
    /// `security group`, as messages name one.
    fn name(self) -> &'static str {
        match self {
            Kind::Instance => "instance",
            Kind::Eip => "EIP",
            Kind::Image => "image",
            Kind::Snapshot => "snapshot",
            Kind::KeyPair => "key pair",
            Kind::SecurityGroup => "security group",
            Kind::VSwitch => "vSwitch",
            Kind::Vpc => "VPC",
        }
    }

    /// `security groups`.
    fn plural(self) -> String {
        match self {
            Kind::VSwitch => "vSwitches".into(),
            _ => format!("{}s", self.name()),
        }
    }

    /// The error codes that mean it is gone already.
    fn not_found(self) -> &'static [&'static str] {
        match self {
            Kind::Instance => &["InvalidInstanceId.NotFound"],
            Kind::Eip => &["InvalidAllocationId.NotFound"],
            Kind::Image => &["InvalidImageId.NotFound"],
            Kind::Snapshot => &["InvalidSnapshotId.NotFound"],
            Kind::KeyPair => &["InvalidKeyPair.NotFound"],
            Kind::SecurityGroup => &["InvalidSecurityGroupId.NotFound"],
            Kind::VSwitch => &["InvalidVSwitchId.NotFound", "InvalidVswitchId.NotFound"],
            Kind::Vpc => &["InvalidVpcId.NotFound"],
        }
    }

    /// The error codes that mean "still in use, try again shortly" (ECS
    /// sees a deleted instance in its group and network for a while).
    fn busy(self) -> &'static [&'static str] {
        match self {
            Kind::SecurityGroup => &["DependencyViolation"],
            Kind::VSwitch => &["DependencyViolation", "IncorrectVSwitchStatus"],
            Kind::Vpc => &[
                "DependencyViolation.Instance",
                "DependencyViolation.VSwitch",
                "DependencyViolation.SecurityGroup",
                "IncorrectVpcStatus",
            ],
            Kind::Snapshot => &["SnapshotCreatedImage"],
            Kind::Eip => &["IncorrectEipStatus"],
            _ => &[],
        }
    }
}

/// What one kind's listing hands to a later kind.
#[derive(Default)]
struct Carry {
    /// The EIPs bound to the run's instances.
    eips: Vec<String>,
    /// The snapshots of the run's images.
    snapshots: Vec<String>,
}

/// Finds everything of run `run` in `regions` (through `endpoint`, a URL,
/// when given) with `key` and deletes it (with `dry_run`, only lists it).
/// Returns how many resources were found.
pub async fn find_and_delete(
    run: &str,
    regions: &[String],
    key: AccessKey,
    endpoint: Option<&str>,
    dry_run: bool,
    ui: &dyn Ui,
) -> Result<usize, CleanupError> {
    let regions = regions
        .iter()
        .map(|r| {
            let ecs = Ecs::connect(r, key.clone(), endpoint).map_err(CleanupError::Client)?;
            Ok((
                r.clone(),
                Region {
                    ecs,
                    carry: Carry::default(),
                },
            ))
        })
        .collect::<Result<Vec<_>, CleanupError>>()?;
    Ok(sweep::sweep(run, regions, dry_run, ui).await?)
}

/// One region of ECS, as kiln-cloud's [`sweep`] walks it.
struct Region {
    ecs: Ecs,
    carry: Carry,
}

#[async_trait]
impl RegionSweep for Region {
    type Kind = Kind;

    fn kinds(&self) -> Vec<Kind> {
        KINDS.to_vec()
    }

    fn noun(&self, kind: Kind) -> &'static str {
        kind.name()
    }

    fn plural(&self, kind: Kind) -> String {
        kind.plural()
    }

    async fn list(&mut self, kind: Kind, run: &str) -> Result<Vec<String>, String> {
        list(kind, &self.ecs, run, &mut self.carry)
            .await
            .map_err(|e| e.to_string())
    }

    async fn delete(&self, kind: Kind, id: &str) -> Result<(), String> {
        delete(kind, &self.ecs, id).await
    }
}

/// True when `item`'s `Tags.Tag` carry `kiln:run` = `run`.
fn tagged(item: &Value, run: &str) -> bool {
    items(item, "Tags", "Tag").iter().any(|t| {
        let key = t["TagKey"].as_str().or(t["Key"].as_str());
        let value = t["TagValue"].as_str().or(t["Value"].as_str());
        key == Some(run_tags::RUN) && value == Some(run)
    })
}

/// True when `item`'s `Description` names `run`.
fn described(item: &Value, run: &str) -> bool {
    described_run(text(item, "Description")) == Some(run)
}

/// Every item of a paged listing: `action` with `params`, page after page.
async fn list_all(
    ecs: &Ecs,
    action: &str,
    params: Params,
    outer: &str,
    inner: &str,
) -> Result<Vec<Value>, ApiError> {
    const PAGE: usize = 50;
    let mut all = Vec::new();
    for page in 1.. {
        let reply = ecs
            .call(
                action,
                &params
                    .clone()
                    .set("PageSize", PAGE.to_string())
                    .set("PageNumber", page.to_string()),
            )
            .await?;
        let chunk = items(&reply, outer, inner);
        all.extend_from_slice(chunk);
        let total = reply["TotalCount"].as_u64().map(|t| t as usize);
        if chunk.len() < PAGE || total.is_some_and(|t| all.len() >= t) {
            break;
        }
    }
    Ok(all)
}

/// The run filter (`Tag.1.Key=kiln:run`, `Tag.1.Value=<run>`).
fn run_filter(run: &str) -> Params {
    Params::new()
        .set("Tag.1.Key", run_tags::RUN)
        .set("Tag.1.Value", run)
}

/// The ids (names, for key pairs) of the run's resources of `kind`.
async fn list(
    kind: Kind,
    ecs: &Ecs,
    run: &str,
    carry: &mut Carry,
) -> Result<Vec<String>, ApiError> {
    let pick = |found: Vec<Value>, id: &str, keep: &dyn Fn(&Value) -> bool| -> Vec<String> {
        found
            .iter()
            .filter(|v| keep(v))
            .map(|v| text(v, id).to_string())
            .filter(|id| !id.is_empty())
            .collect()
    };
    let is_run = |v: &Value| tagged(v, run);
    Ok(match kind {
        Kind::Instance => {
            let found = list_all(
                ecs,
                "DescribeInstances",
                run_filter(run),
                "Instances",
                "Instance",
            )
            .await?;
            let mine: Vec<&Value> = found.iter().filter(|v| tagged(v, run)).collect();
            carry.eips = mine
                .iter()
                .map(|i| text(&i["EipAddress"], "AllocationId").to_string())
                .filter(|a| !a.is_empty())
                .collect();
            mine.iter()
                .map(|i| text(i, "InstanceId").to_string())
                .collect()
        }
        Kind::Eip => std::mem::take(&mut carry.eips),
        Kind::Image => {
            let params = run_filter(run)
                .set("ImageOwnerAlias", "self")
                .set("Status", ALL_STATUSES);
            let found = list_all(ecs, "DescribeImages", params, "Images", "Image").await?;
            for image in found.iter().filter(|v| tagged(v, run)) {
                carry
                    .snapshots
                    .extend(crate::cloud::image::image_snapshots(image));
            }
            pick(found, "ImageId", &is_run)
        }
        Kind::Snapshot => {
            let found = list_all(
                ecs,
                "DescribeSnapshots",
                run_filter(run),
                "Snapshots",
                "Snapshot",
            )
            .await?;
            let mut ids = std::mem::take(&mut carry.snapshots);
            for id in pick(found, "SnapshotId", &is_run) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            ids
        }
        Kind::KeyPair => {
            let found = list_all(
                ecs,
                "DescribeKeyPairs",
                run_filter(run),
                "KeyPairs",
                "KeyPair",
            )
            .await?;
            pick(found, "KeyPairName", &is_run)
        }
        Kind::SecurityGroup => {
            let found = list_all(
                ecs,
                "DescribeSecurityGroups",
                run_filter(run),
                "SecurityGroups",
                "SecurityGroup",
            )
            .await?;
            pick(found, "SecurityGroupId", &is_run)
        }
        Kind::VSwitch => {
            let found = list_all(
                ecs,
                "DescribeVSwitches",
                Params::new(),
                "VSwitches",
                "VSwitch",
            )
            .await?;
            pick(found, "VSwitchId", &|v: &Value| described(v, run))
        }
        Kind::Vpc => {
            let found = list_all(ecs, "DescribeVpcs", Params::new(), "Vpcs", "Vpc").await?;
            pick(found, "VpcId", &|v: &Value| described(v, run))
        }
    })
}

/// Deletes one resource; gone already is done, "still in use" is tried
/// again for a while.
async fn delete(kind: Kind, ecs: &Ecs, id: &str) -> Result<(), String> {
    if kind == Kind::Instance {
        return delete_instance(ecs, id).await;
    }
    if kind == Kind::Eip {
        unbind_eip(ecs, id).await?;
    }
    let (action, params) = match kind {
        Kind::Eip => ("ReleaseEipAddress", Params::new().set("AllocationId", id)),
        Kind::Image => (
            "DeleteImage",
            Params::new().set("ImageId", id).set("Force", "true"),
        ),
        Kind::Snapshot => (
            "DeleteSnapshot",
            Params::new().set("SnapshotId", id).set("Force", "true"),
        ),
        Kind::KeyPair => (
            "DeleteKeyPairs",
            Params::new().set("KeyPairNames", json_list(&[id])),
        ),
        Kind::SecurityGroup => (
            "DeleteSecurityGroup",
            Params::new().set("SecurityGroupId", id),
        ),
        Kind::VSwitch => ("DeleteVSwitch", Params::new().set("VSwitchId", id)),
        Kind::Vpc => ("DeleteVpc", Params::new().set("VpcId", id)),
        Kind::Instance => unreachable!("deleted above"),
    };
    let what = format!("{} {id}", kind.name());
    sweep::delete_when_free(&what, kind.busy(), || {
        ecs.delete(action, &params, kind.not_found())
    })
    .await
}

/// Force-deletes instance `id` (ECS waits for one still being created)
/// and waits until it is gone.
async fn delete_instance(ecs: &Ecs, id: &str) -> Result<(), String> {
    sweep::terminate_instance(ecs, id, &format!("instance {id}")).await
}

/// Unbinds EIP `id` if it is still bound (its instance is deleted by
/// now) and waits until it is available.
async fn unbind_eip(ecs: &Ecs, id: &str) -> Result<(), String> {
    sweep::poller()
        .wait(
            &format!("EIP {id} to be available"),
            &CancellationToken::new(),
            || async move {
                let reply = ecs
                    .call(
                        "DescribeEipAddresses",
                        &Params::new().set("AllocationId", id),
                    )
                    .await?;
                let Some(eip) = items(&reply, "EipAddresses", "EipAddress").first() else {
                    return Ok(Status::Ready(()));
                };
                match text(eip, "Status") {
                    "Available" => Ok(Status::Ready(())),
                    "InUse" => {
                        let params = Params::new()
                            .set("AllocationId", id)
                            .set("InstanceId", text(eip, "InstanceId"));
                        match ecs.call("UnassociateEipAddress", &params).await {
                            Err(e) if !e.is(&["IncorrectEipStatus"]) => Err(CheckError::from(e)),
                            _ => Ok(Status::Pending("InUse".into())),
                        }
                    }
                    other => Ok(Status::Pending(other.to_string())),
                }
            },
        )
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runs_tag_or_description_matches() {
        let tags = |k: &str, v: &str| serde_json::json!({"Tags": {"Tag": [{"TagKey": "Name", "TagValue": "x"}, {"TagKey": k, "TagValue": v}]}});
        assert!(tagged(&tags("kiln:run", "r1"), "r1"));
        assert!(!tagged(&tags("kiln:run", "r2"), "r1"));
        assert!(!tagged(&tags("kiln:build", "r1"), "r1"));
        assert!(!tagged(&serde_json::json!({}), "r1"));
        let desc = |d: &str| serde_json::json!({ "Description": d });
        let run = [
            ("kiln:build".to_string(), "my build".to_string()),
            ("kiln:run".to_string(), "r1".to_string()),
        ];
        let d = crate::cloud::run_description(&run).unwrap();
        assert_eq!(d, "kiln:run=r1 kiln:build=my build");
        assert!(described(&desc(&d), "r1"));
        assert!(!described(&desc(&d), "r"));
        assert!(!described(&desc("kiln:run=r12"), "r1"));
        assert!(!described(&desc("made by hand"), "r1"));
        assert!(!described(&desc(""), "r1"));
        assert_eq!(crate::cloud::run_description(&[]), None);
    }

    #[test]
    fn the_order_is_one_ecs_accepts() {
        let at = |k: Kind| KINDS.iter().position(|x| *x == k).unwrap();
        for k in KINDS.iter().filter(|k| **k != Kind::Instance) {
            assert!(at(Kind::Instance) < at(*k), "{k:?}");
            assert!(!k.not_found().is_empty(), "{k:?}");
        }
        assert!(at(Kind::Image) < at(Kind::Snapshot));
        assert!(at(Kind::SecurityGroup) < at(Kind::Vpc));
        assert!(at(Kind::VSwitch) < at(Kind::Vpc));
        assert!(at(Kind::Eip) < at(Kind::Vpc));
    }

    #[test]
    fn credentials_come_from_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let k = access_key_from_env(&env(&[
            ("ALICLOUD_ACCESS_KEY", "ak"),
            ("ALICLOUD_SECRET_KEY", "sk"),
        ]))
        .unwrap();
        assert_eq!((k.id.as_str(), k.secret.expose().as_str()), ("ak", "sk"));
        assert_eq!(k.security_token, None);
        assert!(matches!(
            access_key_from_env(&env(&[("ALICLOUD_ACCESS_KEY", "ak")])),
            Err(CleanupError::NoCredentials { .. })
        ));
    }
}
