//! Packer's `stepPreValidate` (and the zone check Packer 1.6.6 makes when
//! it sets up its client): `zone` must be one of the region's
//! (`DescribeZones`), and the image name free in the build region, unless
//! `image_force_delete` (then images of that name are deleted first, as
//! Packer 1.6.6 does). Creates nothing; nothing to clean up.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_cloud::steps::image::ImageApi;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use serde_json::json;

use crate::cloud::{items, text};
use crate::config::Config;
use crate::TencentState;

/// See the module docs.
pub struct StepPreValidate {
    /// The build's config.
    pub config: Arc<Config>,
}

#[async_trait]
impl Step<TencentState> for StepPreValidate {
    fn name(&self) -> &'static str {
        "stepPreValidate"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut TencentState,
    ) -> Result<StepAction, StepError> {
        let zone = &self.config.access.zone;
        let zones = state
            .cvm
            .cvm
            .call("DescribeZones", &json!({}), Some(&cx.cancel))
            .await
            .map_err(|e| StepError::msg(format!("Failed to get zones: {e}")))?;
        if !items(&zones, "ZoneSet")
            .iter()
            .any(|z| text(z, "Zone") == zone)
        {
            return Err(StepError::msg(format!(
                "unknown zone: `{zone}` is not a zone of `{}`",
                state.cvm.region()
            )));
        }
        let name = &self.config.image.image_name;
        cx.ui.say(&format!("Trying to check image name: {name}..."));
        let cvm = &state.cvm;
        let region = cvm.region();
        let taken: Vec<String> = cvm
            .images_named(name)
            .await
            .map_err(|e| StepError::msg(format!("Failed to get images info: {e}")))?
            .iter()
            .filter(|i| text(i, "ImageName") == name && text(i, "ImageType") != "PUBLIC_IMAGE")
            .map(|i| text(i, "ImageId").to_string())
            .collect();
        if !taken.is_empty() && !self.config.image.image_force_delete {
            return Err(StepError::msg(format!(
                "Image name has exists: image `{name}` is `{}` in `{region}`; set `image_force_delete` to replace it",
                taken.join("`, `")
            )));
        }
        for id in taken {
            cx.ui.message(&format!(
                "Deleting image `{id}` in `{region}` (image_force_delete)"
            ));
            cvm.delete_image(&id)
                .await
                .map_err(|e| StepError::msg(format!("Failed to delete image: {e}")))?;
        }
        cx.ui.message("Image name: useable");
        Ok(StepAction::Continue)
    }
}
