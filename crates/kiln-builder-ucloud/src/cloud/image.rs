//! The image calls of kiln-cloud's generic steps on UCloud: create the
//! image of the stopped UHost (`CreateCustomImage`), find it again by name
//! and time when the reply was lost (paging through every custom image),
//! copy it into another project and/or region (`CopyCustomImage`, called
//! in the source's project and region), look at it, delete it
//! (`TerminateCustomImage`). UCloud images have no snapshots to delete and
//! no tags to change after creation; sharing is not UCloud's. The
//! "region" of kiln-cloud's image steps is `<project>:<region>` here, as
//! the plugin's artifact names its images. Holds nothing.

use async_trait::async_trait;
use kiln_cloud::steps::call_error;
use kiln_cloud::steps::image::{
    CopyTarget, ImageApi, ImagePhase, ImageStatus, ImageWording, NewImage, Text,
};
use kiln_cloud::ApiError;
use kiln_sdk::step::StepError;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::{Image, Uhost};
use crate::client::params;

/// The plugin's words for the image steps.
pub const WORDING: ImageWording = ImageWording {
    noun: "image",
    cloud: "UCloud",
    created: &[Text::Message(
        "Waiting for the created image \"{id}\" to become available...",
    )],
    waiting: &[],
    deleting_created: &[Text::Say("Deleting image because of cancellation or error...")],
    delete_created_failed: "Error on deleting image, it may still be around: {error}",
    find_failed: "Error on looking for the image `{name}` this build may have made, it may still be around: {error}",
    copying: &[Text::Say("Copying images from \"{id}\"...")],
    copying_to: &[Text::Message("Copying image \"{id}\" to {region}")],
    waiting_copies: &[Text::Message("Waiting for the copied images to become available...")],
    copy_wait_failed: "Error on waiting for copying image \"{id}\" in {region} to become available: {error}",
    replacing: &[],
    deleting_copies: &[Text::Say("Deleting copied image because of cancellation or error...")],
    delete_copy_failed: "Error on deleting copied image in {region}, it may still be around: {error}",
    modifying: &[],
    modifying_snapshot: &[],
    share_snapshot_failed: "{error}",
    tagging: &[],
    tagging_snapshot: &[],
    image_tags: &[],
    snapshot_tags: &[],
    tag: "",
    tag_image_failed: "{error}",
    tag_snapshots_failed: "{error}",
    run_tags_failed: "{error}",
    describe_failed: "Error on reading image \"{id}\": {error}",
    delete_failed: "Error on deleting image \"{id}\": {error}",
    delete_snapshot_failed: "{error}",
};

/// `CreateCustomImage`'s parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// The stopped UHost.
    pub uhost_id: String,
    /// `image_description`.
    pub description: String,
}

/// `CopyCustomImage`'s parameters besides the source and target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRequest {
    /// The copy's name.
    pub name: String,
    /// The copy's description.
    pub description: String,
}

/// `<project>:<region>` of kiln-cloud's image steps, split.
pub fn split_key(key: &str) -> (&str, &str) {
    key.split_once(':').unwrap_or(("", key))
}

#[derive(Deserialize)]
struct Created {
    #[serde(rename = "ImageId")]
    image_id: String,
}

#[derive(Deserialize)]
struct Copied {
    #[serde(rename = "TargetImageId")]
    target_image_id: String,
}

impl Uhost {
    /// The custom image named `name` made since the build started, if any.
    async fn made_since(&self, name: &str) -> Result<Option<String>, ApiError> {
        let all = self.images(&params([("ImageType", "Custom")])).await?;
        Ok(all
            .into_iter()
            .filter(|i| i.image_name == name && i.create_time >= self.since)
            .map(|i| i.image_id)
            .next())
    }
}

#[async_trait]
impl ImageApi for Uhost {
    type Create = CreateRequest;
    type Copy = CopyRequest;
    type Attribute = ();
    type Image = Image;

    async fn create(
        &self,
        image: &NewImage<CreateRequest>,
        cancel: &CancellationToken,
    ) -> Result<String, StepError> {
        let p = params([
            ("UHostId", image.request.uhost_id.as_str()),
            ("ImageName", image.name.as_str()),
            ("ImageDescription", image.request.description.as_str()),
        ]);
        let created: Created = self
            .client
            .create("CreateCustomImage", &p, Some(cancel), || async {
                Ok(self
                    .made_since(&image.name)
                    .await?
                    .map(|image_id| Created { image_id }))
            })
            .await
            .map_err(|e| call_error(cancel, format!("Error on creating image: {e}")))?;
        Ok(created.image_id)
    }

    async fn find_created(
        &self,
        name: &str,
        _run_tags: &[(String, String)],
    ) -> Result<Option<String>, ApiError> {
        self.made_since(name).await
    }

    async fn copy(
        &self,
        source_region: &str,
        source: &str,
        target: &CopyTarget<CopyRequest>,
        cancel: &CancellationToken,
    ) -> Result<String, StepError> {
        let (src_project, src_region) = split_key(source_region);
        let (project, region) = split_key(&target.region);
        let p = params([
            ("SourceImageId", source),
            ("TargetProjectId", project),
            ("TargetRegion", region),
            ("TargetImageName", target.request.name.as_str()),
            (
                "TargetImageDescription",
                target.request.description.as_str(),
            ),
        ]);
        let at = self.client.at(src_project, src_region);
        let copied: Copied = at
            .create("CopyCustomImage", &p, Some(cancel), || async {
                Ok(self
                    .made_since(&target.request.name)
                    .await?
                    .map(|target_image_id| Copied { target_image_id }))
            })
            .await
            .map_err(|e| {
                let message =
                    format!("Error on copying image \"{source}\" to {project}:{region}: {e}");
                call_error(cancel, message)
            })?;
        Ok(copied.target_image_id)
    }

    async fn describe(&self, id: &str) -> Result<Option<Image>, ApiError> {
        self.image(id).await
    }

    fn status(&self, image: &Image) -> ImageStatus {
        let phase = match image.state.as_str() {
            "Available" => ImagePhase::Available,
            "Making" | "Copying" | "Importing" | "Creating" => ImagePhase::Pending,
            _ => ImagePhase::Failed,
        };
        ImageStatus::new(phase, image.state.as_str())
    }

    async fn delete_image(&self, id: &str) -> Result<(), ApiError> {
        self.client
            .delete(
                "TerminateCustomImage",
                &params([("ImageId", id)]),
                &["8011"],
            )
            .await
    }

    async fn tag(&self, _ids: &[String], _tags: &[(String, String)]) -> Result<(), ApiError> {
        Ok(())
    }

    fn wording(&self) -> &ImageWording {
        &WORDING
    }
}
