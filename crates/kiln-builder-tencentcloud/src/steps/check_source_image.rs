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

/// `source_image_name` as Packer reads it: a regular expression (Go's
/// RE2 syntax, which the `regex` crate shares) found anywhere in an
/// image's name unless anchored. `prepare` has checked that it compiles.
pub fn name_pattern(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(pattern)
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
        let pattern = match &run.source_image {
            SourceImage::Id(_) => None,
            SourceImage::Name(p) => Some(name_pattern(p).map_err(|e| {
                StepError::msg(format!(
                    "`source_image_name` `{p}` is not a regular expression: {e}"
                ))
            })?),
        };
        let found =
            items(&reply, "ImageSet")
                .iter()
                .find(|i| match (&run.source_image, &pattern) {
                    (_, Some(p)) => p.is_match(text(i, "ImageName")),
                    (SourceImage::Id(id), None) => text(i, "ImageId") == id,
                    (SourceImage::Name(_), None) => false,
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
    use super::name_pattern;

    #[test]
    fn names_match_as_packer_reads_them_regular_expressions() {
        let m = |p: &str, n: &str| name_pattern(p).unwrap().is_match(n);
        assert!(m("Ubuntu", "Ubuntu Server 20.04"));
        assert!(m("^Ubuntu Server", "Ubuntu Server 20.04"));
        assert!(!m("^Server", "Ubuntu Server 20.04"));
        assert!(m("20\\.04$", "Ubuntu Server 20.04"));
        assert!(m("^CentOS 7\\.[0-9]+ 64", "CentOS 7.6 64位"));
        assert!(!m("^CentOS 7$", "CentOS 7.6"));
        assert!(m("(?i)^ubuntu", "Ubuntu Server"));
        assert!(m(
            "TencentOS Server [23]\\.\\d",
            "TencentOS Server 3.1 (TK4)"
        ));
        assert!(name_pattern("CentOS (7").is_err());
    }
}
