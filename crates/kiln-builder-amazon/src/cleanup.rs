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

use std::collections::BTreeSet;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::types::{Filter, Tag};
use kiln_sdk::run_tags;
use kiln_sdk::Ui;

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

/// Where to look: regions, and an endpoint for every service (moto, a
/// private EC2 endpoint).
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The regions to search.
    pub regions: Vec<String>,
    /// `-endpoint`: the EC2 and IAM endpoint URL.
    pub endpoint: Option<String>,
}

/// One resource found.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    kind: &'static str,
    id: String,
}

/// Finds everything in `regions` (through `endpoint` when given) that
/// carries `kiln:run` = `run` and deletes it (with `dry_run`, only lists
/// it). Credentials come from the standard AWS chain (environment, shared
/// files, profiles, instance metadata). Returns how many resources were
/// found.
pub async fn find_and_delete(
    run: &str,
    regions: &[String],
    endpoint: Option<&str>,
    dry_run: bool,
    ui: &dyn Ui,
) -> Result<usize, CleanupError> {
    let mut failures = Vec::new();
    let mut found = 0;
    let mut sdk = None;
    for region in regions {
        let conf = load(region, endpoint).await;
        // The SDK's own standard retries (`load`): the builds' clients turn
        // them off for kiln's policy, which these calls do not go through yet.
        let ec2 = aws_sdk_ec2::Client::new(&conf);
        found += clean_region(&ec2, region, run, dry_run, ui, &mut failures).await;
        sdk.get_or_insert(conf);
    }
    if let Some(conf) = sdk {
        let iam = aws_sdk_iam::Client::new(&conf);
        found += clean_iam(&iam, run, dry_run, ui, &mut failures).await;
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

async fn load(region: &str, endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(8)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(20)),
        );
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
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

/// Says what is (or would be) deleted.
fn announce(ui: &dyn Ui, dry_run: bool, region: &str, f: &Found) {
    let verb = if dry_run { "Would delete" } else { "Deleting" };
    ui.say(&format!("{verb} {} {} in {region}", f.kind, f.id));
}

/// Lists and deletes the run's EC2 resources in one region; failures are
/// appended to `failures`. Returns how many were found.
async fn clean_region(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    run: &str,
    dry_run: bool,
    ui: &dyn Ui,
    failures: &mut Vec<String>,
) -> usize {
    let mut count = 0;
    let mut fail = |what: String| failures.push(format!("{what} (in {region})"));

    // Instances first: everything else may be in use by them.
    let instances: Vec<String> = match ec2
        .describe_instances()
        .filters(run_filter(run))
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .set_values(Some(
                    ["pending", "running", "stopping", "stopped", "shutting-down"]
                        .map(String::from)
                        .to_vec(),
                ))
                .build(),
        )
        .send()
        .await
    {
        Ok(r) => r
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| tagged(i.tags(), run))
            .filter_map(|i| i.instance_id().map(str::to_string))
            .collect(),
        Err(e) => {
            fail(format!("cannot list instances: {}", client::describe(&e)));
            Vec::new()
        }
    };
    for id in &instances {
        announce(
            ui,
            dry_run,
            region,
            &Found {
                kind: "instance",
                id: id.clone(),
            },
        );
    }
    count += instances.len();
    if !dry_run && !instances.is_empty() {
        match ec2
            .terminate_instances()
            .set_instance_ids(Some(instances.clone()))
            .send()
            .await
        {
            Ok(_) => {
                if let Err(e) = wait_terminated(ec2, &instances).await {
                    fail(e);
                }
            }
            Err(e) => fail(format!(
                "cannot terminate {}: {}",
                instances.join(", "),
                client::describe(&e)
            )),
        }
    }

    // Spot requests.
    match ec2
        .describe_spot_instance_requests()
        .filters(run_filter(run))
        .send()
        .await
    {
        Ok(r) => {
            let ids: Vec<String> = r
                .spot_instance_requests()
                .iter()
                .filter(|s| tagged(s.tags(), run))
                .filter(|s| {
                    !matches!(
                        s.state().map(|s| s.as_str()),
                        Some("cancelled") | Some("closed")
                    )
                })
                .filter_map(|s| s.spot_instance_request_id().map(str::to_string))
                .collect();
            for id in &ids {
                announce(
                    ui,
                    dry_run,
                    region,
                    &Found {
                        kind: "spot request",
                        id: id.clone(),
                    },
                );
            }
            count += ids.len();
            if !dry_run && !ids.is_empty() {
                if let Err(e) = ec2
                    .cancel_spot_instance_requests()
                    .set_spot_instance_request_ids(Some(ids.clone()))
                    .send()
                    .await
                {
                    fail(format!(
                        "cannot cancel spot requests {}: {}",
                        ids.join(", "),
                        client::describe(&e)
                    ));
                }
            }
        }
        Err(e) => fail(format!(
            "cannot list spot requests: {}",
            client::describe(&e)
        )),
    }

    // Launch templates.
    match ec2
        .describe_launch_templates()
        .filters(run_filter(run))
        .send()
        .await
    {
        Ok(r) => {
            for t in r
                .launch_templates()
                .iter()
                .filter(|t| tagged(t.tags(), run))
            {
                let Some(id) = t.launch_template_id() else {
                    continue;
                };
                count += 1;
                announce(
                    ui,
                    dry_run,
                    region,
                    &Found {
                        kind: "launch template",
                        id: id.to_string(),
                    },
                );
                if dry_run {
                    continue;
                }
                if let Err(e) = ec2
                    .delete_launch_template()
                    .launch_template_id(id)
                    .send()
                    .await
                {
                    if !client::code(&e).unwrap_or_default().contains("NotFound") {
                        fail(format!(
                            "cannot delete launch template {id}: {}",
                            client::describe(&e)
                        ));
                    }
                }
            }
        }
        Err(e) => fail(format!(
            "cannot list launch templates: {}",
            client::describe(&e)
        )),
    }

    // AMIs, remembering their snapshots (an interrupted build may not
    // have tagged those yet).
    let mut snapshots = BTreeSet::new();
    match ec2
        .describe_images()
        .owners("self")
        .filters(run_filter(run))
        .send()
        .await
    {
        Ok(r) => {
            for im in r.images().iter().filter(|i| tagged(i.tags(), run)) {
                let Some(id) = im.image_id() else { continue };
                snapshots.extend(crate::step_create_ami::snapshots(im));
                count += 1;
                announce(
                    ui,
                    dry_run,
                    region,
                    &Found {
                        kind: "AMI",
                        id: id.to_string(),
                    },
                );
                if dry_run {
                    continue;
                }
                if let Err(e) = ec2.deregister_image().image_id(id).send().await {
                    if !client::code(&e)
                        .unwrap_or_default()
                        .starts_with("InvalidAMIID")
                    {
                        fail(format!(
                            "cannot deregister AMI {id}: {}",
                            client::describe(&e)
                        ));
                    }
                }
            }
        }
        Err(e) => fail(format!("cannot list AMIs: {}", client::describe(&e))),
    }
    match ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(run_filter(run))
        .send()
        .await
    {
        Ok(r) => snapshots.extend(
            r.snapshots()
                .iter()
                .filter(|s| tagged(s.tags(), run))
                .filter_map(|s| s.snapshot_id().map(str::to_string)),
        ),
        Err(e) => fail(format!("cannot list snapshots: {}", client::describe(&e))),
    }
    for id in &snapshots {
        count += 1;
        announce(
            ui,
            dry_run,
            region,
            &Found {
                kind: "snapshot",
                id: id.clone(),
            },
        );
        if dry_run {
            continue;
        }
        if let Err(e) = ec2.delete_snapshot().snapshot_id(id).send().await {
            if client::code(&e) != Some("InvalidSnapshot.NotFound") {
                fail(format!(
                    "cannot delete snapshot {id}: {}",
                    client::describe(&e)
                ));
            }
        }
    }

    // Volumes left detached (a volume still attached went with its
    // instance, or is not the run's to delete).
    match ec2.describe_volumes().filters(run_filter(run)).send().await {
        Ok(r) => {
            for v in r.volumes().iter().filter(|v| tagged(v.tags(), run)) {
                let Some(id) = v.volume_id() else { continue };
                if v.state().map(|s| s.as_str()) == Some("deleting") {
                    continue;
                }
                count += 1;
                announce(
                    ui,
                    dry_run,
                    region,
                    &Found {
                        kind: "volume",
                        id: id.to_string(),
                    },
                );
                if dry_run {
                    continue;
                }
                if let Err(e) = ec2.delete_volume().volume_id(id).send().await {
                    if client::code(&e) != Some("InvalidVolume.NotFound") {
                        fail(format!(
                            "cannot delete volume {id}: {}",
                            client::describe(&e)
                        ));
                    }
                }
            }
        }
        Err(e) => fail(format!("cannot list volumes: {}", client::describe(&e))),
    }

    // Key pairs.
    match ec2
        .describe_key_pairs()
        .filters(run_filter(run))
        .send()
        .await
    {
        Ok(r) => {
            for k in r.key_pairs().iter().filter(|k| tagged(k.tags(), run)) {
                let Some(name) = k.key_name() else { continue };
                count += 1;
                announce(
                    ui,
                    dry_run,
                    region,
                    &Found {
                        kind: "key pair",
                        id: name.to_string(),
                    },
                );
                if dry_run {
                    continue;
                }
                if let Err(e) = ec2.delete_key_pair().key_name(name).send().await {
                    if client::code(&e) != Some("InvalidKeyPair.NotFound") {
                        fail(format!(
                            "cannot delete key pair {name}: {}",
                            client::describe(&e)
                        ));
                    }
                }
            }
        }
        Err(e) => fail(format!("cannot list key pairs: {}", client::describe(&e))),
    }

    // Security groups last: EC2 refuses while an instance still uses one
    // (`DependencyViolation`), for a while after it terminated.
    match ec2
        .describe_security_groups()
        .filters(run_filter(run))
        .send()
        .await
    {
        Ok(r) => {
            for g in r.security_groups().iter().filter(|g| tagged(g.tags(), run)) {
                let Some(id) = g.group_id() else { continue };
                count += 1;
                announce(
                    ui,
                    dry_run,
                    region,
                    &Found {
                        kind: "security group",
                        id: id.to_string(),
                    },
                );
                if dry_run {
                    continue;
                }
                if let Err(e) = delete_group(ec2, id).await {
                    fail(e);
                }
            }
        }
        Err(e) => fail(format!(
            "cannot list security groups: {}",
            client::describe(&e)
        )),
    }
    count
}

/// Waits until `ids` are terminated (at most 10 minutes).
async fn wait_terminated(ec2: &aws_sdk_ec2::Client, ids: &[String]) -> Result<(), String> {
    for _ in 0..300 {
        let r = ec2
            .describe_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "cannot wait for {} to terminate: {}",
                    ids.join(", "),
                    client::describe(&e)
                )
            })?;
        let all_gone = r
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .all(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) == Some("terminated"));
        if all_gone {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Err(format!(
        "instances {} were still not terminated after 10 minutes",
        ids.join(", ")
    ))
}

/// Deletes security group `id`, retrying while EC2 still sees an instance
/// in it.
async fn delete_group(ec2: &aws_sdk_ec2::Client, id: &str) -> Result<(), String> {
    let mut last = String::new();
    for attempt in 0..10u64 {
        match ec2.delete_security_group().group_id(id).send().await {
            Ok(_) => return Ok(()),
            Err(e) if client::code(&e) == Some("InvalidGroup.NotFound") => return Ok(()),
            Err(e) if client::code(&e) == Some("DependencyViolation") => {
                last = client::describe(&e);
                tokio::time::sleep(Duration::from_secs(attempt + 1)).await;
            }
            Err(e) => {
                return Err(format!(
                    "cannot delete security group {id}: {}",
                    client::describe(&e)
                ))
            }
        }
    }
    Err(format!("cannot delete security group {id}: {last}"))
}

/// True when IAM tags carry `kiln:run` = `run`.
fn iam_tagged(tags: &[aws_sdk_iam::types::Tag], run: &str) -> bool {
    tags.iter()
        .any(|t| t.key() == run_tags::RUN && t.value() == run)
}

/// The temporary roles and instance profiles of the run (IAM is global).
/// Only the `packer-` names kiln gives them are read, one tag call each.
async fn clean_iam(
    iam: &aws_sdk_iam::Client,
    run: &str,
    dry_run: bool,
    ui: &dyn Ui,
    failures: &mut Vec<String>,
) -> usize {
    let mut count = 0;
    let gone = |code: Option<&str>| code == Some("NoSuchEntity");
    match iam.list_instance_profiles().send().await {
        Ok(r) => {
            for p in r.instance_profiles() {
                let name = p.instance_profile_name();
                if !name.starts_with("packer-") {
                    continue;
                }
                // GetInstanceProfile returns the tags (the list does not).
                let tags = match iam
                    .get_instance_profile()
                    .instance_profile_name(name)
                    .send()
                    .await
                {
                    Ok(t) => t
                        .instance_profile()
                        .map(|p| p.tags().to_vec())
                        .unwrap_or_default(),
                    Err(e) if gone(client::code(&e)) => continue,
                    Err(e) => {
                        failures.push(format!(
                            "cannot read the tags of instance profile {name}: {}",
                            client::describe(&e)
                        ));
                        continue;
                    }
                };
                if !iam_tagged(&tags, run) {
                    continue;
                }
                count += 1;
                let verb = if dry_run { "Would delete" } else { "Deleting" };
                ui.say(&format!("{verb} IAM instance profile {name}"));
                if dry_run {
                    continue;
                }
                for role in p.roles() {
                    let _ = iam
                        .remove_role_from_instance_profile()
                        .instance_profile_name(name)
                        .role_name(role.role_name())
                        .send()
                        .await;
                }
                if let Err(e) = iam
                    .delete_instance_profile()
                    .instance_profile_name(name)
                    .send()
                    .await
                {
                    if !gone(client::code(&e)) {
                        failures.push(format!(
                            "cannot delete instance profile {name}: {}",
                            client::describe(&e)
                        ));
                    }
                }
            }
        }
        Err(e) => failures.push(format!(
            "cannot list IAM instance profiles: {}",
            client::describe(&e)
        )),
    }
    match iam.list_roles().send().await {
        Ok(r) => {
            for role in r.roles() {
                let name = role.role_name();
                if !name.starts_with("packer-") {
                    continue;
                }
                let tags = match iam.list_role_tags().role_name(name).send().await {
                    Ok(t) => t.tags().to_vec(),
                    Err(e) => {
                        failures.push(format!(
                            "cannot read the tags of role {name}: {}",
                            client::describe(&e)
                        ));
                        continue;
                    }
                };
                if !iam_tagged(&tags, run) {
                    continue;
                }
                count += 1;
                let verb = if dry_run { "Would delete" } else { "Deleting" };
                ui.say(&format!("{verb} IAM role {name}"));
                if dry_run {
                    continue;
                }
                if let Err(e) = delete_role(iam, name).await {
                    failures.push(e);
                }
            }
        }
        Err(e) => failures.push(format!("cannot list IAM roles: {}", client::describe(&e))),
    }
    count
}

/// Deletes role `name` with its inline policies and profile memberships.
async fn delete_role(iam: &aws_sdk_iam::Client, name: &str) -> Result<(), String> {
    if let Ok(p) = iam.list_role_policies().role_name(name).send().await {
        for policy in p.policy_names() {
            let _ = iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await;
        }
    }
    if let Ok(p) = iam
        .list_instance_profiles_for_role()
        .role_name(name)
        .send()
        .await
    {
        for profile in p.instance_profiles() {
            let _ = iam
                .remove_role_from_instance_profile()
                .instance_profile_name(profile.instance_profile_name())
                .role_name(name)
                .send()
                .await;
        }
    }
    match iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if client::code(&e) == Some("NoSuchEntity") => Ok(()),
        Err(e) => Err(format!(
            "cannot delete role {name}: {}",
            client::describe(&e)
        )),
    }
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
}
