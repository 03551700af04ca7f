//! The builder's halves of kiln-cloud's image steps: the `CreateImage`
//! request ([`CreateImagePlan`]) and the tags ([`ImageTagPlan`]).

use kiln_cloud::steps::image::{ImagePlan, ImageTags, NewImage, TagPlan};
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;

use crate::client::Params;
use crate::config::Config;
use crate::AlicloudState;

/// The `CreateImage` request: from the stopped instance, named, versioned
/// and described as the template says.
pub struct CreateImagePlan {
    pub config: std::sync::Arc<Config>,
}

impl ImagePlan<AlicloudState> for CreateImagePlan {
    fn request(&self, ui: &dyn Ui, state: &AlicloudState) -> Result<NewImage<Params>, StepError> {
        let c = &self.config;
        let instance = state
            .instance_id
            .clone()
            .ok_or_else(|| StepError::msg("there is no instance to make the image of"))?;
        ui.say(&format!("Creating image: {}", c.image_name));
        let request = Params::new()
            .set("InstanceId", instance)
            .set("ImageName", c.image_name.as_str())
            .opt("ImageVersion", c.image_version.clone())
            .opt("Description", c.image_description.clone());
        Ok(NewImage {
            name: c.image_name.clone(),
            request,
        })
    }
}

/// `tags` on the image, and on its snapshots `snapshot_tags` (else the
/// same tags, as Packer 1.6.6 tags them).
pub struct ImageTagPlan {
    pub config: std::sync::Arc<Config>,
}

impl TagPlan<AlicloudState> for ImageTagPlan {
    fn is_empty(&self) -> bool {
        self.config.tags.is_empty() && self.config.snapshot_tags.is_empty()
    }

    fn render(&self, _state: &AlicloudState, _region: &str) -> Result<ImageTags, StepError> {
        let c = &self.config;
        let pairs = |m: &std::collections::BTreeMap<String, String>| -> Vec<(String, String)> {
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        let snapshots = if c.snapshot_tags.is_empty() {
            &c.tags
        } else {
            &c.snapshot_tags
        };
        Ok(ImageTags {
            image: pairs(&c.tags),
            snapshots: pairs(snapshots),
        })
    }
}
