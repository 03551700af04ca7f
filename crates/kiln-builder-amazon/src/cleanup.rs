//! What `kiln cleanup -run <uuid>` does in AWS, and the run-tag helpers
//! the steps use. Every resource an amazon-ebs build creates carries the
//! run tags ([`kiln_sdk::run_tags`]: `kiln:run` = the run's
//! `PACKER_RUN_UUID`, `kiln:build` = the build's name), so that what a
//! SIGKILLed kiln left behind can be found through the EC2 and IAM APIs
//! and deleted, in an order EC2 accepts: instances (terminated, and waited
//! for), spot requests, launch templates, AMIs, snapshots, volumes, key
//! pairs, security groups, then the temporary IAM roles and instance
//! profiles. A successful build takes the run tags off the AMIs and
//! snapshots it reports as artifacts ([`release`]), so a cleanup of that
//! run never deletes them. Holds nothing; deleting twice is harmless.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_ec2::operation::{
    describe_images::DescribeImagesOutput, describe_instances::DescribeInstancesOutput,
    describe_key_pairs::DescribeKeyPairsOutput,
    describe_launch_templates::DescribeLaunchTemplatesOutput,
    describe_security_groups::DescribeSecurityGroupsOutput,
    describe_snapshots::DescribeSnapshotsOutput,
    describe_spot_instance_requests::DescribeSpotInstanceRequestsOutput,
    describe_volumes::DescribeVolumesOutput,
};
use aws_sdk_ec2::types::{
    Filter, Image, Instance, KeyPairInfo, LaunchTemplate, SecurityGroup, Snapshot,
    SpotInstanceRequest, Tag, Volume,
};
use kiln_cloud::{ApiError, CheckError, Poller, Status};
use kiln_sdk::run_tags;
use kiln_sdk::Ui;
use tokio_util::sync::CancellationToken;

use crate::client;

/// Why a cleanup did not finish.
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    /// Some resources could not be listed or deleted; every other one was.
    #[error("{} resource(s) of run `{run}` could not be cleaned up:\n  {}", .failures.len(), .failures.join("\n  "))]
    Failed {
        /// The run.
        run: String,
        /// What failed, one line each.
        failures: Vec<String>,
    },
}

/// Adds `run_tags` to `resources` (no call when either is empty).
pub async fn tag_run(
    ec2: &client::Ec2,
    run_tags: &[(String, String)],
    resources: Vec<String>,
) -> Result<(), String> {
    if run_tags.is_empty() || resources.is_empty() {
        return Ok(());
    }
    let what = resources.join(", ");
    // Under the retry policy: tagging again after a lost reply is harmless.
    ec2.send(
        ec2.create_tags()
            .set_resources(Some(resources))
            .set_tags(Some(crate::tags::ec2_tags(run_tags))),
        |r| r.send(),
    )
    .await
    .map(|_| ())
    .map_err(|e| format!("error adding the run tags to {what}: {e}"))
}

/// Takes the run tags off `resources` (the artifacts of a successful
/// build), so `kiln cleanup` leaves them alone.
pub async fn untag_run(
    ec2: &client::Ec2,
    run_tags: &[(String, String)],
    resources: Vec<String>,
) -> Result<(), String> {
    if run_tags.is_empty() || resources.is_empty() {
        return Ok(());
    }
    let what = resources.join(", ");
    let keys = run_tags
        .iter()
        .map(|(k, _)| Tag::builder().key(k).build())
        .collect();
    ec2.send(
        ec2.delete_tags()
            .set_resources(Some(resources))
            .set_tags(Some(keys)),
        |r| r.send(),
    )
    .await
    .map(|_| ())
    .map_err(|e| format!("error removing the run tags from {what}: {e}"))
}

/// Takes the run tags off a successful build's AMIs and snapshots, in
/// every region; a failure is reported, not fatal (the artifact stands).
pub async fn release(state: &crate::AmazonState, ui: &dyn Ui) {
    for (region, ami) in &state.amis {
        let ec2 = client::ec2_for(&state.sdk, region);
        let mut ids = vec![ami.clone()];
        ids.extend(state.snapshots.get(region).cloned().unwrap_or_default());
        if let Err(e) = untag_run(&ec2, &state.run_tags, ids).await {
            ui.error(&format!(
                "{e} (`kiln cleanup -run` of this run would delete them)"
            ));
        }
    }
}

/// What a resource kind is called, how `kiln cleanup` finds the run's
/// resources of that kind and deletes them: one row of [`KINDS`].
struct KindSpec {
    kind: Kind,
    /// `security group`, as messages name one.
    name: &'static str,
    /// `security groups`.
    plural: &'static str,
    /// EC2 kinds are searched in every region; IAM is global.
    scope: Scope,
    /// The error codes that mean it is gone already: deleting it is done.
    not_found: &'static [&'static str],
}

/// Where a kind lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// In each region (EC2).
    Region,
    /// Once for the account (IAM).
    Global,
}

/// The resource kinds an amazon-ebs build creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Instance,
    SpotRequest,
    LaunchTemplate,
    Ami,
    Snapshot,
    Volume,
    KeyPair,
    SecurityGroup,
    InstanceProfile,
    Role,
}

/// Every kind, in the order they are deleted: instances first (everything
/// else may be in use by them), security groups last of EC2 (EC2 refuses
/// while an instance still uses one), then IAM's profiles before their
/// roles.
const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: Kind::Instance,
        name: "instance",
        plural: "instances",
        scope: Scope::Region,
        not_found: &["InvalidInstanceID.NotFound"],
    },
    KindSpec {
        kind: Kind::SpotRequest,
        name: "spot request",
        plural: "spot requests",
        scope: Scope::Region,
        not_found: &["InvalidSpotInstanceRequestID.NotFound"],
    },
    KindSpec {
        kind: Kind::LaunchTemplate,
        name: "launch template",
        plural: "launch templates",
        scope: Scope::Region,
        not_found: &[
            "InvalidLaunchTemplateId.NotFound",
            "InvalidLaunchTemplateName.NotFoundException",
        ],
    },
    KindSpec {
        kind: Kind::Ami,
        name: "AMI",
        plural: "AMIs",
        scope: Scope::Region,
        not_found: &["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"],
    },
    KindSpec {
        kind: Kind::Snapshot,
        name: "snapshot",
        plural: "snapshots",
        scope: Scope::Region,
        not_found: &["InvalidSnapshot.NotFound"],
    },
    KindSpec {
        kind: Kind::Volume,
        name: "volume",
        plural: "volumes",
        scope: Scope::Region,
        not_found: &["InvalidVolume.NotFound"],
    },
    KindSpec {
        kind: Kind::KeyPair,
        name: "key pair",
        plural: "key pairs",
        scope: Scope::Region,
        not_found: &["InvalidKeyPair.NotFound"],
    },
    KindSpec {
        kind: Kind::SecurityGroup,
        name: "security group",
        plural: "security groups",
        scope: Scope::Region,
        not_found: &["InvalidGroup.NotFound"],
    },
    KindSpec {
        kind: Kind::InstanceProfile,
        name: "IAM instance profile",
        plural: "IAM instance profiles",
        scope: Scope::Global,
        not_found: &["NoSuchEntity"],
    },
    KindSpec {
        kind: Kind::Role,
        name: "IAM role",
        plural: "IAM roles",
        scope: Scope::Global,
        not_found: &["NoSuchEntity"],
    },
];

/// The clients of one search: EC2 in one region, or IAM.
enum Clients<'a> {
    Ec2(&'a client::Ec2),
    Iam(&'a client::Iam),
}

/// What one kind's listing hands to a later kind, and what its own
/// deletion needs besides the ids.
#[derive(Default)]
struct Carry {
    /// The snapshots of the run's AMIs (an interrupted build may not have
    /// tagged them yet).
    snapshots: BTreeSet<String>,
    /// The roles in each of the run's instance profiles.
    profile_roles: BTreeMap<String, Vec<String>>,
}

/// Finds everything in `regions` (through `endpoint` when given) that
/// carries `kiln:run` = `run` and deletes it (with `dry_run`, only lists
/// it). Credentials come from the standard AWS chain (environment, shared
/// files, profiles, instance metadata); every call goes through kiln's
/// retry policy. Returns how many resources were found.
pub async fn find_and_delete(
    run: &str,
    regions: &[String],
    endpoint: Option<&str>,
    dry_run: bool,
    ui: &dyn Ui,
) -> Result<usize, CleanupError> {
    let search = Search { run, dry_run, ui };
    let mut failures = Vec::new();
    let mut found = 0;
    let mut sdk = None;
    for region in regions {
        let conf = client::load_standard(region, endpoint).await;
        let ec2 = client::ec2_at(&conf, region, ENDPOINT_FLAG);
        let mut carry = Carry::default();
        for spec in KINDS.iter().filter(|k| k.scope == Scope::Region) {
            found += search
                .clean(
                    spec,
                    &Clients::Ec2(&ec2),
                    Some(region),
                    &mut carry,
                    &mut failures,
                )
                .await;
        }
        sdk.get_or_insert(conf);
    }
    if let Some(conf) = sdk {
        let iam = client::iam_at(&conf, ENDPOINT_FLAG);
        let mut carry = Carry::default();
        for spec in KINDS.iter().filter(|k| k.scope == Scope::Global) {
            found += search
                .clean(spec, &Clients::Iam(&iam), None, &mut carry, &mut failures)
                .await;
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

/// `kiln cleanup`'s flag for a custom endpoint, for error hints.
const ENDPOINT_FLAG: &str = "-endpoint";

/// One `kiln cleanup` run's settings.
struct Search<'a> {
    run: &'a str,
    dry_run: bool,
    ui: &'a dyn Ui,
}

impl Search<'_> {
    /// Lists the run's resources of `spec`'s kind, says what is (or would
    /// be) deleted and deletes them; what fails is appended to `failures`
    /// (with the region). Returns how many were found.
    async fn clean(
        &self,
        spec: &KindSpec,
        clients: &Clients<'_>,
        region: Option<&str>,
        carry: &mut Carry,
        failures: &mut Vec<String>,
    ) -> usize {
        let place = region.map(|r| format!(" in {r}")).unwrap_or_default();
        let within = region.map(|r| format!(" (in {r})")).unwrap_or_default();
        let mut fail = |what: String| failures.push(format!("{what}{within}"));
        let mut problems = Vec::new();
        let ids = match list(spec.kind, clients, self.run, carry, &mut problems).await {
            Ok(ids) => ids,
            Err(e) => {
                fail(format!("cannot list {}: {e}", spec.plural));
                return 0;
            }
        };
        problems.into_iter().for_each(&mut fail);
        let verb = if self.dry_run {
            "Would delete"
        } else {
            "Deleting"
        };
        for id in &ids {
            self.ui.say(&format!("{verb} {} {id}{place}", spec.name));
        }
        if !self.dry_run && !ids.is_empty() {
            for e in delete(spec, clients, &ids, carry).await {
                fail(e);
            }
        }
        ids.len()
    }
}

/// The filter on the run tag.
fn run_filter(run: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{}", run_tags::RUN))
        .values(run)
        .build()
}

/// True when `tags` carry `kiln:run` = `run` (checked again on every
/// answer, so an endpoint that ignores filters cannot get anything else
/// deleted).
fn tagged(tags: &[Tag], run: &str) -> bool {
    tags.iter()
        .any(|t| t.key() == Some(run_tags::RUN) && t.value() == Some(run))
}

/// True when IAM tags carry `kiln:run` = `run`.
fn iam_tagged(tags: &[aws_sdk_iam::types::Tag], run: &str) -> bool {
    tags.iter()
        .any(|t| t.key() == run_tags::RUN && t.value() == run)
}

/// The temporary IAM roles and profiles kiln makes are named `packer-…`:
/// only those have their tags read (one call each).
const IAM_PREFIX: &str = "packer-";

/// An item an EC2 listing returns: its tags and its id (the name, for a
/// key pair).
trait Listed {
    fn item_tags(&self) -> &[Tag];
    fn id(&self) -> Option<&str>;
}

/// An EC2 listing's answer: the items it lists.
trait Answer {
    type Item: Listed;
    fn items(&self) -> Vec<&Self::Item>;
}

/// [`Answer`] and [`Listed`] for each listing kiln cleanup reads:
/// `answer => item.id getter: |answer| its items`.
macro_rules! listed {
    ($($answer:ident => $item:ident . $id:ident : |$r:ident| $items:expr),* $(,)?) => {$(
        impl Answer for $answer {
            type Item = $item;
            fn items(&self) -> Vec<&$item> {
                let $r = self;
                $items
            }
        }
        impl Listed for $item {
            fn item_tags(&self) -> &[Tag] {
                self.tags()
            }
            fn id(&self) -> Option<&str> {
                self.$id()
            }
        }
    )*};
}

listed!(
    DescribeInstancesOutput => Instance.instance_id:
        |r| r.reservations().iter().flat_map(|r| r.instances()).collect(),
    DescribeSpotInstanceRequestsOutput => SpotInstanceRequest.spot_instance_request_id:
        |r| r.spot_instance_requests().iter().collect(),
    DescribeLaunchTemplatesOutput => LaunchTemplate.launch_template_id:
        |r| r.launch_templates().iter().collect(),
    DescribeImagesOutput => Image.image_id: |r| r.images().iter().collect(),
    DescribeSnapshotsOutput => Snapshot.snapshot_id: |r| r.snapshots().iter().collect(),
    DescribeVolumesOutput => Volume.volume_id: |r| r.volumes().iter().collect(),
    DescribeKeyPairsOutput => KeyPairInfo.key_name: |r| r.key_pairs().iter().collect(),
    DescribeSecurityGroupsOutput => SecurityGroup.group_id:
        |r| r.security_groups().iter().collect(),
);

/// A [`find`] that keeps every tagged item.
fn all<T>(_: &T) -> bool {
    true
}

/// One EC2 listing: `describe` sends the request with the run filter it
/// is given; of the items of the answer, those that carry the run tag
/// ([`tagged`]) and that `keep` lets by (it sees each tagged item once,
/// and may note what a later kind needs) give their ids.
async fn find<A, Fut>(
    run: &str,
    describe: impl FnOnce(Filter) -> Fut,
    mut keep: impl FnMut(&A::Item) -> bool,
) -> Result<Vec<String>, ApiError>
where
    A: Answer,
    Fut: std::future::Future<Output = Result<A, ApiError>>,
{
    let answer = describe(run_filter(run)).await?;
    Ok(answer
        .items()
        .into_iter()
        .filter(|i| tagged(i.item_tags(), run))
        .filter(|i| keep(i))
        .filter_map(Listed::id)
        .map(str::to_string)
        .collect())
}

/// The ids (names, for key pairs and IAM) of the run's resources of
/// `kind`. Problems with single resources (a tag that cannot be read) go
/// to `problems`; the listing goes on.
async fn list(
    kind: Kind,
    clients: &Clients<'_>,
    run: &str,
    carry: &mut Carry,
    problems: &mut Vec<String>,
) -> Result<Vec<String>, ApiError> {
    match (kind, clients) {
        (Kind::Instance, Clients::Ec2(ec2)) => {
            let live = ["pending", "running", "stopping", "stopped", "shutting-down"];
            let state = Filter::builder()
                .name("instance-state-name")
                .set_values(Some(live.map(String::from).to_vec()))
                .build();
            let describe = |f| {
                let req = ec2.describe_instances().filters(f).filters(state);
                ec2.send(req, |r| r.send())
            };
            find(run, describe, all).await
        }
        (Kind::SpotRequest, Clients::Ec2(ec2)) => {
            let describe = |f| {
                let req = ec2.describe_spot_instance_requests().filters(f);
                ec2.send(req, |r| r.send())
            };
            let open = |s: &SpotInstanceRequest| {
                !matches!(
                    s.state().map(|s| s.as_str()),
                    Some("cancelled") | Some("closed")
                )
            };
            find(run, describe, open).await
        }
        (Kind::LaunchTemplate, Clients::Ec2(ec2)) => {
            let describe = |f| ec2.send(ec2.describe_launch_templates().filters(f), |r| r.send());
            find(run, describe, all).await
        }
        (Kind::Ami, Clients::Ec2(ec2)) => {
            let describe = |f| {
                let req = ec2.describe_images().owners("self").filters(f);
                ec2.send(req, |r| r.send())
            };
            let note = |im: &Image| {
                let snapshots = crate::step_create_ami::snapshots(im);
                carry.snapshots.extend(snapshots);
                true
            };
            find(run, describe, note).await
        }
        (Kind::Snapshot, Clients::Ec2(ec2)) => {
            let describe = |f| {
                let req = ec2.describe_snapshots().owner_ids("self").filters(f);
                ec2.send(req, |r| r.send())
            };
            let found = find(run, describe, all).await?;
            let mut ids = std::mem::take(&mut carry.snapshots);
            ids.extend(found);
            Ok(ids.into_iter().collect())
        }
        (Kind::Volume, Clients::Ec2(ec2)) => {
            // Volumes left detached (a volume still attached went with its
            // instance, or is not the run's to delete).
            let describe = |f| ec2.send(ec2.describe_volumes().filters(f), |r| r.send());
            let live = |v: &Volume| v.state().map(|s| s.as_str()) != Some("deleting");
            find(run, describe, live).await
        }
        (Kind::KeyPair, Clients::Ec2(ec2)) => {
            let describe = |f| ec2.send(ec2.describe_key_pairs().filters(f), |r| r.send());
            find(run, describe, all).await
        }
        (Kind::SecurityGroup, Clients::Ec2(ec2)) => {
            let describe = |f| ec2.send(ec2.describe_security_groups().filters(f), |r| r.send());
            find(run, describe, all).await
        }
        (Kind::InstanceProfile, Clients::Iam(iam)) => {
            let r = iam.send(iam.list_instance_profiles(), |r| r.send()).await?;
            let mut found = Vec::new();
            for p in r.instance_profiles() {
                let name = p.instance_profile_name();
                if !name.starts_with(IAM_PREFIX) {
                    continue;
                }
                // GetInstanceProfile returns the tags (the list does not).
                let req = iam.get_instance_profile().instance_profile_name(name);
                let tags = match iam.send(req, |r| r.send()).await {
                    Ok(t) => t
                        .instance_profile()
                        .map(|p| p.tags().to_vec())
                        .unwrap_or_default(),
                    Err(e) if e.is(&["NoSuchEntity"]) => continue,
                    Err(e) => {
                        problems.push(format!(
                            "cannot read the tags of IAM instance profile {name}: {e}"
                        ));
                        continue;
                    }
                };
                if iam_tagged(&tags, run) {
                    let roles = p.roles().iter().map(|r| r.role_name().to_string());
                    carry
                        .profile_roles
                        .insert(name.to_string(), roles.collect());
                    found.push(name.to_string());
                }
            }
            Ok(found)
        }
        (Kind::Role, Clients::Iam(iam)) => {
            let r = iam.send(iam.list_roles(), |r| r.send()).await?;
            let mut found = Vec::new();
            for role in r.roles() {
                let name = role.role_name();
                if !name.starts_with(IAM_PREFIX) {
                    continue;
                }
                let req = iam.list_role_tags().role_name(name);
                match iam.send(req, |r| r.send()).await {
                    Ok(t) if iam_tagged(t.tags(), run) => found.push(name.to_string()),
                    Ok(_) => {}
                    Err(e) if e.is(&["NoSuchEntity"]) => {}
                    Err(e) => {
                        problems.push(format!("cannot read the tags of IAM role {name}: {e}"))
                    }
                }
            }
            Ok(found)
        }
        // The table pairs EC2 kinds with EC2 clients and IAM's with IAM.
        _ => Ok(Vec::new()),
    }
}

/// Deletes the run's resources `ids` of `spec`'s kind; a resource already
/// gone counts as deleted. Returns what failed, one line each.
async fn delete(
    spec: &KindSpec,
    clients: &Clients<'_>,
    ids: &[String],
    carry: &Carry,
) -> Vec<String> {
    // Only maps an error the caller already holds: its size costs nothing.
    #[allow(clippy::result_large_err)]
    let gone = |r: Result<(), ApiError>| match r {
        Err(e) if e.is(spec.not_found) => Ok(()),
        r => r,
    };
    let mut failures = Vec::new();
    match (spec.kind, clients) {
        // All at once, then waited for: what is left may be in use until
        // they are gone.
        (Kind::Instance, Clients::Ec2(ec2)) => {
            let req = ec2
                .terminate_instances()
                .set_instance_ids(Some(ids.to_vec()));
            let terminated = ec2
                .delete(req, |r| r.send(), spec.not_found)
                .await
                .map(|_| ());
            match gone(terminated) {
                Ok(()) => {
                    if let Err(e) = wait_terminated(ec2, ids).await {
                        failures.push(e);
                    }
                }
                Err(e) => failures.push(format!("cannot terminate {}: {e}", ids.join(", "))),
            }
        }
        (Kind::SpotRequest, Clients::Ec2(ec2)) => {
            let req = ec2
                .cancel_spot_instance_requests()
                .set_spot_instance_request_ids(Some(ids.to_vec()));
            let cancelled = ec2
                .delete(req, |r| r.send(), spec.not_found)
                .await
                .map(|_| ());
            if let Err(e) = gone(cancelled) {
                failures.push(format!(
                    "cannot cancel spot requests {}: {e}",
                    ids.join(", ")
                ));
            }
        }
        (kind, clients) => {
            for id in ids {
                if let Err(e) = gone(delete_one(kind, clients, id, spec.not_found, carry).await) {
                    failures.push(format!("cannot delete {} {id}: {e}", spec.name));
                }
            }
        }
    }
    failures
}

/// Deletes one resource (`not_found` on a retry is done).
async fn delete_one(
    kind: Kind,
    clients: &Clients<'_>,
    id: &str,
    not_found: &[&str],
    carry: &Carry,
) -> Result<(), ApiError> {
    match (kind, clients) {
        (Kind::LaunchTemplate, Clients::Ec2(ec2)) => {
            let req = ec2.delete_launch_template().launch_template_id(id);
            ec2.delete(req, |r| r.send(), not_found).await.map(|_| ())
        }
        (Kind::Ami, Clients::Ec2(ec2)) => {
            let req = ec2.deregister_image().image_id(id);
            ec2.delete(req, |r| r.send(), not_found).await.map(|_| ())
        }
        (Kind::Snapshot, Clients::Ec2(ec2)) => {
            let req = ec2.delete_snapshot().snapshot_id(id);
            ec2.delete(req, |r| r.send(), not_found).await.map(|_| ())
        }
        (Kind::Volume, Clients::Ec2(ec2)) => {
            let req = ec2.delete_volume().volume_id(id);
            ec2.delete(req, |r| r.send(), not_found).await.map(|_| ())
        }
        (Kind::KeyPair, Clients::Ec2(ec2)) => {
            let req = ec2.delete_key_pair().key_name(id);
            ec2.delete(req, |r| r.send(), not_found).await.map(|_| ())
        }
        (Kind::SecurityGroup, Clients::Ec2(ec2)) => delete_group(ec2, id, not_found).await,
        (Kind::InstanceProfile, Clients::Iam(iam)) => {
            for role in carry.profile_roles.get(id).into_iter().flatten() {
                let req = iam
                    .remove_role_from_instance_profile()
                    .instance_profile_name(id)
                    .role_name(role);
                // What fails here fails the profile's deletion, and says so.
                let _ = iam.delete(req, |r| r.send(), not_found).await;
            }
            let req = iam.delete_instance_profile().instance_profile_name(id);
            iam.delete(req, |r| r.send(), not_found).await.map(|_| ())
        }
        (Kind::Role, Clients::Iam(iam)) => delete_role(iam, id, not_found).await,
        // Batched in `delete`, or a client of the other service.
        _ => Ok(()),
    }
}

/// Waits until `ids` are terminated (at most 10 minutes).
async fn wait_terminated(ec2: &client::Ec2, ids: &[String]) -> Result<(), String> {
    let what = format!("instances {} to terminate", ids.join(", "));
    let poller = Poller::new(Duration::from_secs(600), Duration::from_secs(2));
    poller
        .wait(&what, &CancellationToken::new(), || async move {
            let req = ec2
                .describe_instances()
                .set_instance_ids(Some(ids.to_vec()));
            let r = ec2.send(req, |r| r.send()).await?;
            let states: BTreeSet<&str> = r
                .reservations()
                .iter()
                .flat_map(|r| r.instances())
                .map(|i| {
                    i.state()
                        .and_then(|s| s.name())
                        .map_or("unknown", |n| n.as_str())
                })
                .filter(|s| *s != "terminated")
                .collect();
            Ok::<_, CheckError>(if states.is_empty() {
                Status::Ready(())
            } else {
                Status::Pending(states.into_iter().collect::<Vec<_>>().join(", "))
            })
        })
        .await
        .map_err(|e| e.to_string())
}

/// Deletes security group `id`, retrying while EC2 still sees an instance
/// in it (`DependencyViolation`, for a while after it terminated).
async fn delete_group(ec2: &client::Ec2, id: &str, not_found: &[&str]) -> Result<(), ApiError> {
    let mut attempt = 0;
    loop {
        let req = ec2.delete_security_group().group_id(id);
        match ec2.delete(req, |r| r.send(), not_found).await {
            Err(e) if e.is(&["DependencyViolation"]) && attempt < 9 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_secs(attempt)).await;
            }
            r => return r.map(|_| ()),
        }
    }
}

/// Deletes role `name` with its inline policies and profile memberships.
async fn delete_role(iam: &client::Iam, name: &str, not_found: &[&str]) -> Result<(), ApiError> {
    // What fails here fails the role's deletion (`DeleteConflict`), and
    // says so.
    if let Ok(p) = iam
        .send(iam.list_role_policies().role_name(name), |r| r.send())
        .await
    {
        for policy in p.policy_names() {
            let req = iam.delete_role_policy().role_name(name).policy_name(policy);
            let _ = iam.delete(req, |r| r.send(), not_found).await;
        }
    }
    let req = iam.list_instance_profiles_for_role().role_name(name);
    if let Ok(p) = iam.send(req, |r| r.send()).await {
        for profile in p.instance_profiles() {
            let req = iam
                .remove_role_from_instance_profile()
                .instance_profile_name(profile.instance_profile_name())
                .role_name(name);
            let _ = iam.delete(req, |r| r.send(), not_found).await;
        }
    }
    let req = iam.delete_role().role_name(name);
    iam.delete(req, |r| r.send(), not_found).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runs_tag_matches() {
        let t = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        assert!(tagged(&[t("Name", "x"), t("kiln:run", "r1")], "r1"));
        assert!(!tagged(&[t("kiln:run", "r2")], "r1"));
        assert!(!tagged(&[t("kiln:build", "r1")], "r1"));
        assert!(!tagged(&[], "r1"));
    }

    #[test]
    fn the_table_deletes_in_an_order_ec2_and_iam_accept() {
        let order: Vec<Kind> = KINDS.iter().map(|k| k.kind).collect();
        let at = |k: Kind| order.iter().position(|x| *x == k).unwrap();
        // Instances before what they use; AMIs before their snapshots;
        // security groups after every EC2 kind; profiles before roles.
        for k in [
            Kind::Ami,
            Kind::Snapshot,
            Kind::Volume,
            Kind::KeyPair,
            Kind::SecurityGroup,
        ] {
            assert!(at(Kind::Instance) < at(k), "{k:?}");
        }
        assert!(at(Kind::Ami) < at(Kind::Snapshot));
        assert_eq!(
            KINDS.iter().rposition(|k| k.scope == Scope::Region),
            Some(at(Kind::SecurityGroup))
        );
        assert!(at(Kind::InstanceProfile) < at(Kind::Role));
        // Every kind once, each with the codes that mean "already gone".
        for spec in KINDS {
            assert_eq!(order.iter().filter(|k| **k == spec.kind).count(), 1);
            assert!(!spec.not_found.is_empty(), "{}", spec.name);
        }
    }
}
