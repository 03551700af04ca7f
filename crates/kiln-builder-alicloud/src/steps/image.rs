//! The builder's halves of kiln-cloud's image steps: the `CreateImage`
//! request ([`CreateImagePlan`]) and the tags ([`ImageTagPlan`]). With
//! `image_encrypted` the image made here is a temporary one
//! (`packer_<7 characters>`): the copy step makes its encrypted copy in
//! the build region under `image_name` and deletes it.

use kiln_cloud::steps::image::{ImagePlan, ImageTags, NewImage, TagPlan};
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;

use crate::client::Params;
use crate::cloud::tag_map;
use crate::config::Config;
use crate::AlicloudState;

/// The `CreateImage` request: from the stopped instance (with
/// `image_ignore_data_disks`, from the snapshot of its system disk alone),
/// named, versioned and described as the template says, and carrying the
/// run tags until the build succeeds.
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
        let name = if c.image_encrypted == Some(true) {
            let name = temporary_image_name();
            ui.say(&format!("Creating temporary image for encryption: {name}"));
            name
        } else {
            ui.say(&format!("Creating image: {}", c.image_name));
            c.image_name.clone()
        };
        let source = if c.image_ignore_data_disks {
            let snapshot = state.system_snapshot.clone().ok_or_else(|| {
                StepError::msg("there is no system disk snapshot to make the image of")
            })?;
            ("SnapshotId", snapshot)
        } else {
            ("InstanceId", instance)
        };
        let request = Params::new()
            .set(source.0, source.1)
            .set("ImageName", name.as_str())
            .opt("ImageVersion", c.image_version.clone())
            .opt("Description", c.image_description.clone())
            .tags("Tag", &tag_map(&state.run_tags));
        Ok(NewImage { name, request })
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

/// Packer's name of the temporary image of an encrypted build:
/// `packer_` and 7 random letters and digits.
fn temporary_image_name() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("packer_{}", &id[..7])
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_temporary_image_name_is_packers_and_a_valid_image_name() {
        let a = super::temporary_image_name();
        let b = super::temporary_image_name();
        assert_ne!(a, b);
        assert_eq!(a.len(), "packer_".len() + 7, "{a}");
        assert!(a.starts_with("packer_"), "{a}");
        assert_eq!(crate::config::check_image_name("image_name", &a), None);
    }
}
