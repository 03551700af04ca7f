//! Packer's `stepCreateImage` as kiln-cloud's `StepCreateImage` plan: the
//! `CreateImage` request (`image_name`, `image_description`,
//! `ForcePoweroff` / `Sysprep` from `force_poweroff` / `sysprep`, the run
//! tags) from the config and the running instance. The generic step
//! records the image, waits until it is NORMAL and on failure deletes it.

use std::sync::Arc;

use kiln_cloud::steps::image::{ImagePlan, NewImage};
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;
use serde_json::{json, Value};

use crate::cloud::tag_list;
use crate::config::Config;
use crate::TencentState;

/// See the module docs.
pub struct CreateImagePlan {
    /// The build's config.
    pub config: Arc<Config>,
}

fn flag(on: bool) -> &'static str {
    if on {
        "True"
    } else {
        "False"
    }
}

impl ImagePlan<TencentState> for CreateImagePlan {
    fn request(&self, ui: &dyn Ui, state: &TencentState) -> Result<NewImage<Value>, StepError> {
        let i = &self.config.image;
        let instance = state
            .instance_id
            .clone()
            .ok_or_else(|| StepError::msg("there is no instance to make the image of"))?;
        ui.say(&format!(
            "Trying to create a new image: {}...",
            i.image_name
        ));
        let mut request = json!({
            "ImageName": i.image_name,
            "InstanceId": instance,
            "ImageDescription": i.image_description,
            "ForcePoweroff": flag(i.force_poweroff),
            "Sysprep": flag(i.sysprep),
        });
        if !state.run_tags.is_empty() {
            request["TagSpecification"] =
                json!([{"ResourceType": "image", "Tags": tag_list(&state.run_tags)}]);
        }
        Ok(NewImage {
            name: i.image_name.clone(),
            request,
        })
    }
}
