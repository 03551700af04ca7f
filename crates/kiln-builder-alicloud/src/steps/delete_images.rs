//! Packer's `stepDeleteAlicloudImageSnapshots`: with
//! `image_force_delete`, the images of the same name (and with
//! `image_force_delete_snapshots` their snapshots) deleted first. No
//! cleanup: what it deletes is gone.

use async_trait::async_trait;
use kiln_cloud::steps::image::ImageApi as ImageApiExt;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::Params;
use crate::cloud::image::image_snapshots;
use crate::cloud::text;
use crate::config::Config;
use crate::AlicloudState;

/// Packer's `stepDeleteAlicloudImageSnapshots`: with `image_force_delete`,
/// deletes the images that have the name (or a copy's name in its
/// region), and with `image_force_delete_snapshots` their snapshots.
pub struct StepDeleteImages {
    pub config: std::sync::Arc<Config>,
}

#[async_trait]
impl Step<AlicloudState> for StepDeleteImages {
    fn name(&self) -> &'static str {
        "stepDeleteAlicloudImageSnapshots"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut AlicloudState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        if !c.force_delete.images {
            return Ok(StepAction::Continue);
        }
        let mut targets = vec![(c.access.region.clone(), c.image_name.clone())];
        targets.extend(c.image_copies.iter().map(|copy| {
            (
                copy.region.clone(),
                copy.name.clone().unwrap_or_else(|| c.image_name.clone()),
            )
        }));
        for (region, name) in targets {
            let ecs = state.ecs.for_region(&region);
            let found = ecs
                .describe_images(
                    Params::new()
                        .set("ImageName", name.as_str())
                        .set("ImageOwnerAlias", "self"),
                )
                .await
                .map_err(|e| StepError::msg(format!("Query alicloud image failed: {e}")))?;
            for image in found.iter().filter(|i| text(i, "ImageName") == name) {
                let id = text(image, "ImageId");
                ImageApiExt::delete_image(&ecs, id)
                    .await
                    .map_err(|e| StepError::msg(format!("Delete alicloud image failed: {e}")))?;
                if c.force_delete.snapshots {
                    for s in image_snapshots(image) {
                        ImageApiExt::delete_snapshot(&ecs, &s).await.map_err(|e| {
                            StepError::msg(format!("Delete alicloud snapshot failed: {e}"))
                        })?;
                        cx.ui.message(&format!("Deleted snapshot: {s}"));
                    }
                }
                cx.ui.message(&format!("Deleted image: {id}"));
            }
        }
        Ok(StepAction::Continue)
    }
}
