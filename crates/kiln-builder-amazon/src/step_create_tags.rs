//! `StepCreateTags` (Packer's): tags the AMI in every region with `tags`
//! and its snapshots with `snapshot_tags` (and `tags`, as Packer does),
//! rendered with that region's build info. Changes only resources this
//! build made; no cleanup.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::{client, tags, AmazonState};

/// See the module docs.
pub struct StepCreateTags {
    config: Arc<Config>,
}

impl StepCreateTags {
    /// A tagging step.
    pub fn new(config: Arc<Config>) -> Self {
        StepCreateTags { config }
    }
}

#[async_trait]
impl Step<AmazonState> for StepCreateTags {
    fn name(&self) -> &'static str {
        "StepCreateTags"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        if c.tags.is_empty() && c.snapshot_tags.is_empty() {
            return Ok(StepAction::Continue);
        }
        for (region, ami) in state.amis.clone() {
            let ec2 = client::ec2_for(&state.sdk, &region);
            cx.ui.say(&format!("Adding tags to AMI ({ami})..."));
            let snaps = state.snapshots.get(&region).cloned().unwrap_or_default();
            for s in &snaps {
                cx.ui.message(&format!("Tagging snapshot: {s}"));
            }
            let ami_tags = tags::render(c, state, &region, &c.tags)?;
            let mut snap_source = c.tags.clone();
            snap_source.extend(c.snapshot_tags.clone());
            let snap_tags = tags::render(c, state, &region, &snap_source)?;
            if !ami_tags.is_empty() {
                cx.ui.say("Creating AMI tags");
                tags::report(cx.ui, &ami_tags);
                ec2.send(
                    ec2.create_tags()
                        .resources(&ami)
                        .set_tags(Some(tags::ec2_tags(&ami_tags))),
                    |r| r.send(),
                )
                .await
                .map_err(|e| StepError::msg(format!("error adding tags to AMI ({ami}): {}", e)))?;
            }
            if !snap_tags.is_empty() && !snaps.is_empty() {
                cx.ui.say("Creating snapshot tags");
                tags::report(cx.ui, &snap_tags);
                ec2.send(
                    ec2.create_tags()
                        .set_resources(Some(snaps.clone()))
                        .set_tags(Some(tags::ec2_tags(&snap_tags))),
                    |r| r.send(),
                )
                .await
                .map_err(|e| {
                    StepError::msg(format!("error adding tags to snapshots in {region}: {}", e))
                })?;
            }
        }
        Ok(StepAction::Continue)
    }
}
