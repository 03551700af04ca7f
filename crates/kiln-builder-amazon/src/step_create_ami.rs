//! `StepCreateAmi` (Packer's `StepCreateAMI`): makes the AMI from the
//! stopped instance (`ami_name`, `ami_description`,
//! `ami_block_device_mappings`), waits until it is available (through the
//! process's shared image lookups, [`crate::lookup`]) and records it
//! and its snapshots in the state. The AMI id is recorded as soon as EC2
//! returns it; on failure or Ctrl-C the cleanup deregisters it and deletes
//! its snapshots.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::Image;
use kiln_cloud::{CheckError, Status};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::{Config, Polling};
use crate::lookup::Lookups;
use crate::step_run_source_instance::mappings;
use crate::{artifact, client, AmazonState};

/// See the module docs.
pub struct StepCreateAmi {
    config: Arc<Config>,
    created: Option<String>,
}

impl StepCreateAmi {
    /// A create-image step.
    pub fn new(config: Arc<Config>) -> Self {
        StepCreateAmi {
            config,
            created: None,
        }
    }
}

/// Waits until `id` is available in the region of `lookups`.
pub async fn wait_available(
    lookups: &Lookups,
    id: &str,
    polling: Polling,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Image, StepError> {
    client::poll(
        polling,
        cancel,
        &format!("AMI ({id}) to become ready"),
        move || async move {
            let Some(img) = lookups.image(id).await? else {
                return Ok(Status::Pending("unknown to EC2".into()));
            };
            match img.state().map(|s| s.as_str()) {
                Some("available") => Ok(Status::Ready(img.clone())),
                Some("failed" | "error" | "invalid" | "deregistered") => {
                    Err(CheckError::Failed(format!(
                        "the AMI is `{}`: {}",
                        img.state().map(|s| s.as_str()).unwrap_or_default(),
                        img.state_reason()
                            .and_then(|r| r.message())
                            .unwrap_or("no reason given")
                    )))
                }
                s => Ok(Status::Pending(s.unwrap_or("unknown").to_string())),
            }
        },
    )
    .await
}

/// The snapshot ids of `image`.
pub fn snapshots(image: &Image) -> Vec<String> {
    image
        .block_device_mappings()
        .iter()
        .filter_map(|b| b.ebs().and_then(|e| e.snapshot_id()))
        .map(str::to_string)
        .collect()
}

#[async_trait]
impl Step<AmazonState> for StepCreateAmi {
    fn name(&self) -> &'static str {
        "StepCreateAMI"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        let Some(instance) = state.instance_id() else {
            return Err(StepError::msg("there is no instance to make an AMI of"));
        };
        cx.ui.say(&format!(
            "Creating AMI {} from instance {instance}",
            c.ami_name
        ));
        // CreateImage has no client token: before a retry (the reply of
        // the last attempt may be lost), and on a duplicate name after
        // one, the AMI of this name is looked up and adopted.
        let lookups = state.lookups.clone();
        let find = || {
            let lookups = lookups.clone();
            let name = c.ami_name.clone();
            async move {
                Ok::<_, kiln_cloud::ApiError>(lookups.own_image_named(&name).await?.map(|id| {
                    aws_sdk_ec2::operation::create_image::CreateImageOutput::builder()
                        .image_id(id)
                        .build()
                }))
            }
        };
        let req = state
            .ec2
            .create_image()
            .instance_id(&instance)
            .name(&c.ami_name)
            .set_description(c.ami_description.clone())
            .set_tag_specifications(crate::tags::specs(
                state,
                aws_sdk_ec2::types::ResourceType::Image,
                &[],
            ))
            .set_block_device_mappings(
                (!c.ami_block_devices.is_empty()).then(|| mappings(&c.ami_block_devices)),
            );
        let resp = state
            .ec2
            .create(req, |r| r.send(), &["InvalidAMIName.Duplicate"], true, find)
            .await
            .map_err(|e| StepError::msg(format!("error creating AMI: {e}")))?;
        let Some(id) = resp.image_id().map(str::to_string) else {
            return Err(StepError::msg(
                "error creating AMI: EC2 returned no image id",
            ));
        };
        self.created = Some(id.clone());
        state.amis.insert(state.region.clone(), id.clone());
        cx.ui.message(&format!("AMI: {id}"));
        cx.ui.say("Waiting for AMI to become ready...");
        let image = wait_available(&state.lookups, &id, c.polling, &cx.cancel).await?;
        state
            .snapshots
            .insert(state.region.clone(), snapshots(&image));
        crate::cleanup::tag_run(&state.ec2, &state.run_tags, snapshots(&image))
            .await
            .map_err(StepError::msg)?;
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut AmazonState) {
        let Some(id) = self.created.take() else {
            return;
        };
        if !cx.failed {
            return;
        }
        cx.ui.say(
            "Deregistering the AMI and deleting associated snapshots because of cancellation, or error...",
        );
        if let Err(e) = artifact::destroy_amis(&state.ec2, &[id]).await {
            cx.ui.error(&format!(
                "Error deregistering AMI, may still be around: {e}"
            ));
        }
        let region = state.region.clone();
        state.amis.remove(&region);
        state.snapshots.remove(&region);
    }
}
