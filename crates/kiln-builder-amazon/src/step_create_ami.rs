//! `StepCreateAMI` (Packer's): kiln-cloud's generic
//! [`StepCreateImage`] with amazon's plan ([`AmiPlan`]): the AMI is made
//! from the stopped instance (`ami_name`, `ami_description`,
//! `ami_block_device_mappings`, tagged with the run tags), its id recorded
//! as soon as EC2 returns it, waited for through the process's shared
//! image lookups ([`crate::lookup`]), and its snapshots recorded and
//! tagged with the run tags. On failure or Ctrl-C the cleanup deregisters
//! it and deletes its snapshots (the EC2 calls are in
//! [`crate::cloud::image`]).

use std::sync::Arc;

use aws_sdk_ec2::operation::create_image::builders::CreateImageFluentBuilder;
use aws_sdk_ec2::types::{Image, ResourceType};
use kiln_cloud::steps::image::{ImagePlan, NewImage, StepCreateImage};
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;

use crate::config::Config;
use crate::step_run_source_instance::mappings;
use crate::{client, tags, AmazonState};

/// The `CreateImage` request of amazon-ebs's config.
pub struct AmiPlan {
    config: Arc<Config>,
}

impl ImagePlan<AmazonState> for AmiPlan {
    fn request(
        &self,
        ui: &dyn Ui,
        state: &AmazonState,
    ) -> Result<NewImage<CreateImageFluentBuilder>, StepError> {
        let c = &self.config;
        let Some(instance) = state.instance_id() else {
            return Err(StepError::msg("there is no instance to make an AMI of"));
        };
        ui.say(&format!(
            "Creating AMI {} from instance {instance}",
            c.ami_name
        ));
        let request = state
            .ec2
            .create_image()
            .instance_id(&instance)
            .name(&c.ami_name)
            .set_description(c.ami_description.clone())
            .set_tag_specifications(tags::specs(state, ResourceType::Image, &[]))
            .set_block_device_mappings(
                (!c.ami_block_devices.is_empty()).then(|| mappings(&c.ami_block_devices)),
            );
        Ok(NewImage {
            name: c.ami_name.clone(),
            request,
        })
    }
}

/// The create-image step of `config`.
pub fn step(config: Arc<Config>) -> StepCreateImage<AmiPlan> {
    let poller = client::poller(config.polling);
    StepCreateImage::new("StepCreateAMI", AmiPlan { config }, poller)
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
