//! Packer's `stepCheckSourceImage`: finds the source image
//! (`source_image_id`, or the first image whose name matches
//! `source_image_name`) among those the instance type can run, and
//! records its id. Creates nothing; nothing to clean up.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::json;

use crate::cloud::{items, text};
use crate::config::{Config, SourceImage};
use crate::TencentState;

/// See the module docs.
pub struct StepCheckSourceImage {
    /// The build's config.
    pub config: Arc<Config>,
}

/// Whether `name` matches `pattern`, as kiln reads `source_image_name`:
/// a literal found anywhere in the name, `^` and `$` anchoring it (the
/// regular expressions Packer takes beyond that are not supported).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let (start, rest) = match pattern.strip_prefix('^') {
        Some(r) => (true, r),
        None => (false, pattern),
    };
    let (end, literal) = match rest.strip_suffix('$') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    match (start, end) {
        (true, true) => name == literal,
        (true, false) => name.starts_with(literal),
        (false, true) => name.ends_with(literal),
        (false, false) => name.contains(literal),
    }
}

#[async_trait]
impl Step<TencentState> for StepCheckSourceImage {
    fn name(&self) -> &'static str {
        "stepCheckSourceImage"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut TencentState,
    ) -> Result<StepAction, StepError> {
        let run = &self.config.run;
        let (shown, body) = match &run.source_image {
            SourceImage::Id(id) => (
                id.clone(),
                json!({"ImageIds": [id], "InstanceType": run.instance_type}),
            ),
            SourceImage::Name(name) => (
                name.clone(),
                json!({"InstanceType": run.instance_type, "Limit": 100}),
            ),
        };
        cx.ui
            .say(&format!("Trying to check source image: {shown}..."));
        let reply = state
            .cvm
            .cvm
            .call("DescribeImages", &body, Some(&cx.cancel))
            .await
            .map_err(|e| StepError::msg(format!("Failed to get source image info: {e}")))?;
        let found = items(&reply, "ImageSet")
            .iter()
            .find(|i| match &run.source_image {
                SourceImage::Id(id) => text(i, "ImageId") == id,
                SourceImage::Name(p) => name_matches(p, text(i, "ImageName")),
            });
        let Some(image) = found else {
            return Err(StepError::msg(format!(
                "No image found under current instance_type(`{}`) restriction: `{shown}`",
                run.instance_type
            )));
        };
        cx.ui
            .message(&format!("Image found: {}", text(image, "ImageName")));
        state.source_image = Some(text(image, "ImageId").to_string());
        state.source_image_size = image["ImageSize"].as_i64();
        Ok(StepAction::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::name_matches;

    #[test]
    fn names_match_as_literals_with_anchors() {
        assert!(name_matches("Ubuntu", "Ubuntu Server 20.04"));
        assert!(name_matches("^Ubuntu Server", "Ubuntu Server 20.04"));
        assert!(!name_matches("^Server", "Ubuntu Server 20.04"));
        assert!(name_matches("20.04$", "Ubuntu Server 20.04"));
        assert!(name_matches("^CentOS 7.6$", "CentOS 7.6"));
        assert!(!name_matches("^CentOS 7$", "CentOS 7.6"));
    }
}
