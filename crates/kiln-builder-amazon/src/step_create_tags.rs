//! `StepCreateTags` (Packer's): kiln-cloud's generic [`StepTagImage`]
//! with amazon's tags: the AMI in every region gets `tags` and its
//! snapshots `snapshot_tags` (and `tags`, as Packer does), rendered with
//! that region's build info ([`crate::tags::render`]). Changes only
//! resources this build made; no cleanup.

use std::sync::Arc;

use kiln_cloud::steps::image::{ImageTags, StepTagImage, TagPlan};
use kiln_sdk::step::StepError;

use crate::config::Config;
use crate::{tags, AmazonState};

/// amazon-ebs's `tags` and `snapshot_tags`.
pub struct AmiTags {
    config: Arc<Config>,
}

impl TagPlan<AmazonState> for AmiTags {
    fn is_empty(&self) -> bool {
        self.config.tags.is_empty() && self.config.snapshot_tags.is_empty()
    }

    fn render(&self, state: &AmazonState, region: &str) -> Result<ImageTags, StepError> {
        let c = &self.config;
        let image = tags::render(c, state, region, &c.tags)?;
        let mut snapshot_source = c.tags.clone();
        snapshot_source.extend(c.snapshot_tags.clone());
        let snapshots = tags::render(c, state, region, &snapshot_source)?;
        Ok(ImageTags { image, snapshots })
    }
}

/// The tagging step of `config`.
pub fn step(config: Arc<Config>) -> StepTagImage<AmiTags> {
    StepTagImage::new("StepCreateTags", AmiTags { config })
}
