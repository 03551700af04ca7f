//! `StepSourceAmiInfo` (Packer's `StepSourceAMIInfo`): finds the source
//! image from `source_ami` and/or `source_ami_filter` (the newest one with
//! `most_recent`, else exactly one must match), checks that enhanced
//! networking can be enabled on it when asked (`ena_support`,
//! `sriov_support`, with `ami_virtualization_type`), and records it and the
//! `SourceAMI*` generated data in the state. Builds of one process asking
//! the same query at the same time share the call ([`crate::lookup`]).
//! Creates nothing; no cleanup.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::types::Image;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::lookup::SourceQuery;
use crate::AmazonState;

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

/// Packer's `canEnableEnhancedNetworking`: with `ena_support` or
/// `sriov_support`, the AMI must be HVM: `ami_virtualization_type` says so
/// when given, else the source image's own type decides.
pub fn enhanced_networking_error(
    config: &Config,
    image_virtualization: Option<&str>,
    image_id: &str,
) -> Option<String> {
    if config.ena_support != Some(true) && !config.sriov_support {
        return None;
    }
    match config.ami_virtualization_type.as_deref() {
        Some("hvm") => None,
        Some(other) => Some(format!(
            "cannot enable enhanced networking: `ami_virtualization_type` `{other}` is not `hvm`"
        )),
        None if image_virtualization == Some("hvm") => None,
        None => Some(format!(
            "cannot enable enhanced networking: the source AMI `{image_id}` is not HVM"
        )),
    }
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
        let images = state
            .lookups
            .source_images(SourceQuery {
                id: s.id.clone(),
                owners: s.owners.clone(),
                filters: s.filters.clone(),
            })
            .await
            .map_err(|e| StepError::msg(format!("error querying AMI: {e}")))?;
        let images = images.as_slice();
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
        if let Some(e) = enhanced_networking_error(
            &self.config,
            image.virtualization_type().map(|v| v.as_str()),
            image.image_id().unwrap_or_default(),
        ) {
            return Err(StepError::msg(e));
        }
        state.generated.extend(
            crate::tags::build_info(Some(&image), &state.region).map(|(k, v)| (k.to_string(), v)),
        );
        state.source_image = Some(image);
        Ok(StepAction::Continue)
    }
}
