//! `StepSourceAmiInfo` (Packer's `StepSourceAMIInfo`): finds the source
//! image from `source_ami` and/or `source_ami_filter` (the newest one with
//! `most_recent`, else exactly one must match), and records it and the
//! `SourceAMI*` generated data in the state. Creates nothing; no cleanup.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, Image};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::{client, AmazonState};

/// See the module docs.
pub struct StepSourceAmiInfo {
    config: Arc<Config>,
}

impl StepSourceAmiInfo {
    /// A source-image lookup step.
    pub fn new(config: Arc<Config>) -> Self {
        StepSourceAmiInfo { config }
    }
}

/// The newest of `images` by creation date (RFC 3339 strings sort by time).
pub fn most_recent(images: &[Image]) -> Option<&Image> {
    images.iter().max_by(|a, b| {
        a.creation_date()
            .unwrap_or("")
            .cmp(b.creation_date().unwrap_or(""))
    })
}

#[async_trait]
impl Step<AmazonState> for StepSourceAmiInfo {
    fn name(&self) -> &'static str {
        "StepSourceAMIInfo"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AmazonState,
    ) -> Result<StepAction, StepError> {
        let s = &self.config.source;
        let mut req = state.ec2.describe_images();
        if let Some(id) = &s.id {
            req = req.image_ids(id);
        }
        for o in &s.owners {
            req = req.owners(o);
        }
        for (k, v) in &s.filters {
            req = req.filters(Filter::builder().name(k).values(v).build());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| StepError::msg(format!("error querying AMI: {}", client::describe(&e))))?;
        let images = resp.images();
        if images.is_empty() {
            return Err(StepError::msg(
                "no AMI was found matching filters: the source image does not exist or is not visible to these credentials",
            ));
        }
        if images.len() > 1 && !s.most_recent {
            return Err(StepError::msg(format!(
                "your query returned more than one result ({} images); please narrow your search criteria or set `most_recent: true`",
                images.len()
            )));
        }
        let Some(image) = most_recent(images).cloned() else {
            return Err(StepError::msg("no AMI was found matching filters"));
        };
        cx.ui.message(&format!(
            "Found Image ID: {}",
            image.image_id().unwrap_or_default()
        ));
        let g = &mut state.generated;
        g.insert(
            "SourceAMI".into(),
            image.image_id().unwrap_or_default().into(),
        );
        g.insert(
            "SourceAMIName".into(),
            image.name().unwrap_or_default().into(),
        );
        g.insert(
            "SourceAMICreationDate".into(),
            image.creation_date().unwrap_or_default().into(),
        );
        g.insert(
            "SourceAMIOwner".into(),
            image.owner_id().unwrap_or_default().into(),
        );
        g.insert(
            "SourceAMIOwnerName".into(),
            image.image_owner_alias().unwrap_or_default().into(),
        );
        g.insert("BuildRegion".into(), state.region.clone());
        state.source_image = Some(image);
        Ok(StepAction::Continue)
    }
}
