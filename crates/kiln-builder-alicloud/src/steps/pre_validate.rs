//! Packer's `stepPreValidate` and `stepCheckAlicloudSourceImage`: the
//! regions and the image name, then the source image, checked before
//! anything is created. Create nothing; nothing to clean up.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::Params;
use crate::cloud::{items, text};
use crate::config::{Config, SourceImage};
use crate::AlicloudState;

/// Packer's `stepPreValidate` with its region check: the build and copy
/// regions exist (`DescribeRegions`, unless `skip_region_validation`),
/// and no image has the name yet (unless `image_force_delete`).
pub struct StepPreValidate {
    pub config: std::sync::Arc<Config>,
}

#[async_trait]
impl Step<AlicloudState> for StepPreValidate {
    fn name(&self) -> &'static str {
        "stepPreValidate"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AlicloudState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        let ecs = &state.ecs;
        if !c.access.skip_region_validation {
            cx.ui
                .say("Prevalidating source region and copied regions...");
            let reply = ecs
                .call("DescribeRegions", &Params::new())
                .await
                .map_err(|e| StepError::msg(format!("error describing regions: {e}")))?;
            let known: Vec<&str> = items(&reply, "Regions", "Region")
                .iter()
                .map(|r| text(r, "RegionId"))
                .collect();
            let wanted = std::iter::once(c.access.region.as_str())
                .chain(c.image_copies.iter().map(|r| r.region.as_str()));
            for region in wanted {
                if !known.contains(&region) {
                    return Err(StepError::msg(format!(
                        "unknown region `{region}`: ECS offers {}\n  hint: set `skip_region_validation` for a region ECS does not list yet",
                        known.join(", ")
                    )));
                }
            }
        }
        if c.force_delete.images {
            cx.ui
                .say("Force delete flag found, skipping prevalidating image name.");
            return Ok(StepAction::Continue);
        }
        cx.ui.say("Prevalidating image name...");
        let found = ecs
            .describe_images(
                Params::new()
                    .set("ImageName", c.image_name.as_str())
                    .set("ImageOwnerAlias", "self"),
            )
            .await
            .map_err(|e| StepError::msg(format!("Error querying alicloud image: {e}")))?;
        if let Some(image) = found.iter().find(|i| text(i, "ImageName") == c.image_name) {
            return Err(StepError::msg(format!(
                "Error: Image Name: '{}' is used by an existing alicloud image: {}\n  hint: set `image_force_delete` (or run with `-force`) to replace it",
                c.image_name,
                text(image, "ImageId")
            )));
        }
        Ok(StepAction::Continue)
    }
}

/// Packer's `stepCheckAlicloudSourceImage`: the source image (by id, or
/// the newest of `image_family`) exists in the build region.
pub struct StepCheckSourceImage {
    pub config: std::sync::Arc<Config>,
}

#[async_trait]
impl Step<AlicloudState> for StepCheckSourceImage {
    fn name(&self) -> &'static str {
        "stepCheckAlicloudSourceImage"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AlicloudState,
    ) -> Result<StepAction, StepError> {
        let (key, value) = match &self.config.source_image {
            SourceImage::Id(id) => ("ImageId", id.as_str()),
            SourceImage::Family(f) => ("ImageFamily", f.as_str()),
        };
        let reply = state
            .ecs
            .call(
                "DescribeImages",
                &Params::new().set(key, value).set("PageSize", "50"),
            )
            .await
            .map_err(|e| StepError::msg(format!("Error querying alicloud image: {e}")))?;
        let found = items(&reply, "Images", "Image");
        let Some(image) = found.first() else {
            return Err(StepError::msg(format!(
                "No alicloud image was found matching filters: {key}={value}\n  hint: check `source_image` (or `image_family`) and `region`"
            )));
        };
        let id = text(image, "ImageId").to_string();
        cx.ui.message(&format!("Found image ID: {id}"));
        state.source_image = Some(id);
        Ok(StepAction::Continue)
    }
}
