//! `StepAmiRegionCopy` (Packer's `StepAMIRegionCopy`): copies the AMI to
//! every region of `ami_regions` (encrypted with `region_kms_key_ids` when
//! `encrypt_boot` is set) and, with `encrypt_boot`, makes an encrypted copy
//! in the build region that replaces the unencrypted original. Copies run
//! concurrently; each copy is recorded in the state as soon as EC2 returns
//! its id. On failure or Ctrl-C the cleanup deregisters the copies and
//! deletes their snapshots.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::step_create_ami::{snapshots, wait_available};
use crate::{artifact, client, AmazonState};

/// See the module docs.
pub struct StepAmiRegionCopy {
    config: Arc<Config>,
    /// Copies made, by region.
    copies: Vec<(String, String)>,
}

impl StepAmiRegionCopy {
    /// A region copy step.
    pub fn new(config: Arc<Config>) -> Self {
        StepAmiRegionCopy {
            config,
            copies: Vec::new(),
        }
    }
}

enum Event {
    Started(String, String),
    Done(String, Vec<String>),
}

#[async_trait]
impl Step<AmazonState> for StepAmiRegionCopy {
    fn name(&self) -> &'static str {
        "StepAMIRegionCopy"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let c = self.config.clone();
        let encrypt = c.encrypt_boot == Some(true);
        let mut regions = c.ami_regions.clone();
        if encrypt {
            regions.push(state.region.clone());
        }
        if regions.is_empty() {
            return Ok(StepAction::Continue);
        }
        let Some(source) = state.amis.get(&state.region).cloned() else {
            return Err(StepError::msg("there is no AMI to copy"));
        };
        cx.ui.say(&format!(
            "Copying/Encrypting AMI ({source}) to other regions..."
        ));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut tasks = tokio::task::JoinSet::new();
        for region in &regions {
            cx.ui.message(&format!("Copying to: {region}"));
            let kms = if !encrypt {
                None
            } else if *region == state.region {
                c.kms_key_id.clone()
            } else {
                c.region_kms_key_ids.get(region).cloned()
            };
            let ec2 = client::ec2_for(&state.sdk, region);
            let lookups = crate::lookup::shared(&state.sdk, &c.access, region);
            let (region, source, name) = (region.clone(), source.clone(), c.ami_name.clone());
            let (src_region, desc, polling) =
                (state.region.clone(), c.ami_description.clone(), c.polling);
            let (tx, cancel) = (tx.clone(), cx.cancel.clone());
            let run_tags = state.run_tags.clone();
            tasks.spawn(async move {
                let mut req = ec2
                    .copy_image()
                    .source_region(src_region)
                    .source_image_id(&source)
                    .name(name)
                    .set_description(desc)
                    .set_kms_key_id(kms)
                    // The same token on every retry: a copy whose reply
                    // was lost is not made twice.
                    .client_token(uuid::Uuid::new_v4().to_string());
                if encrypt {
                    req = req.encrypted(true);
                }
                let resp = ec2.send(req, |r| r.send()).await.map_err(|e| {
                    format!("error copying AMI ({source}) to region ({region}): {}", e)
                })?;
                let id = resp.image_id().unwrap_or_default().to_string();
                let _ = tx.send(Event::Started(region.clone(), id.clone()));
                crate::cleanup::tag_run(&ec2, &run_tags, vec![id.clone()]).await?;
                let image = wait_available(&lookups, &id, polling, &cancel)
                    .await
                    .map_err(|e| {
                        format!("error waiting for AMI ({id}) in region ({region}): {e}")
                    })?;
                crate::cleanup::tag_run(&ec2, &run_tags, snapshots(&image)).await?;
                let _ = tx.send(Event::Done(region, snapshots(&image)));
                Ok::<(), String>(())
            });
        }
        drop(tx);
        cx.ui.message("Waiting for all copies to complete...");
        let mut errors = Vec::new();
        loop {
            tokio::select! {
                Some(ev) = rx.recv() => match ev {
                    Event::Started(region, id) => self.copies.push((region, id)),
                    Event::Done(region, snaps) => {
                        state.snapshots.insert(region, snaps);
                    }
                },
                r = tasks.join_next() => match r {
                    None => break,
                    Some(Ok(Ok(()))) => {}
                    Some(Ok(Err(e))) => errors.push(e),
                    Some(Err(e)) => errors.push(format!("a copy task failed: {e}")),
                },
            }
        }
        while let Ok(ev) = rx.try_recv() {
            match ev {
                Event::Started(region, id) => self.copies.push((region, id)),
                Event::Done(region, snaps) => {
                    state.snapshots.insert(region, snaps);
                }
            }
        }
        if cx.cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        if !errors.is_empty() {
            return Err(StepError::msg(errors.join("\n")));
        }
        if encrypt {
            // The encrypted copy replaces the unencrypted original.
            let Some((_, encrypted)) = self.copies.iter().find(|(r, _)| *r == state.region) else {
                return Err(StepError::msg("the encrypted copy of the AMI is missing"));
            };
            cx.ui.say(
                "Deregistering the unencrypted intermediary AMI and deleting its snapshots...",
            );
            artifact::destroy_amis(&state.ec2, std::slice::from_ref(&source))
                .await
                .map_err(StepError::msg)?;
            state.amis.insert(state.region.clone(), encrypted.clone());
        }
        for (region, id) in &self.copies {
            state.amis.insert(region.clone(), id.clone());
        }
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut AmazonState) {
        let copies = std::mem::take(&mut self.copies);
        if !cx.failed || copies.is_empty() {
            return;
        }
        cx.ui.say("Deregistering the copied AMIs and deleting their snapshots because of cancellation, or error...");
        for (region, id) in copies {
            let ec2 = client::ec2_for(&state.sdk, &region);
            if let Err(e) = artifact::destroy_amis(&ec2, &[id]).await {
                cx.ui.error(&format!(
                    "Error deregistering AMI in {region}, may still be around: {e}"
                ));
            }
            if region != state.region {
                state.amis.remove(&region);
                state.snapshots.remove(&region);
            }
        }
    }
}
