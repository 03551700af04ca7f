//! alicloud-ecs's side of kiln-cloud's image family
//! ([`kiln_cloud::steps::image`]): `CreateImage` with a `ClientToken`,
//! `CopyImage` (called in the source region, `DestinationRegionId` the
//! copy's), `DescribeImages` (every status), `DeleteImage` with `Force`
//! (a shared image too), `DeleteSnapshot`, `ModifyImageSharePermission`
//! (the one attribute change, [`SharePermission`]) and `TagResources`;
//! Packer's alicloud wording. Holds nothing; the steps' cleanups delete
//! the images made when the build fails.

use async_trait::async_trait;
use kiln_cloud::steps::image::{
    CopyTarget, ImageApi, ImageChange, ImagePhase, ImageState, ImageStatus, ImageWording, NewImage,
    Sharing, Text,
};
use kiln_cloud::ApiError;
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{client_token, items, tag_map, text, Ecs};
use crate::client::Params;
use crate::AlicloudState;

/// Every image status, for looks that must see images in the making.
pub const ALL_STATUSES: &str = "Creating,Waiting,Available,UnAvailable,CreateFailed";

const IMAGE_NOT_FOUND: &[&str] = &["InvalidImageId.NotFound"];
const SNAPSHOT_NOT_FOUND: &[&str] = &["InvalidSnapshotId.NotFound"];

/// `image_share_account` and `image_unshare_account`, applied in every
/// region the image is in (`ModifyImageSharePermission`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SharePermission {
    /// Accounts to share with.
    pub add: Vec<String>,
    /// Accounts to stop sharing with.
    pub remove: Vec<String>,
}

/// A copy's name and description in its region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRequest {
    /// `image_copy_names`' entry, else the image's name.
    pub name: String,
    /// The image's description.
    pub description: Option<String>,
}

/// Packer's alicloud wording for the image steps.
pub const WORDING: ImageWording = ImageWording {
    noun: "image",
    cloud: "ECS",
    // Packer says nothing between "Creating image: …" and the cleanup.
    created: &[],
    waiting: &[],
    deleting_created: &[Text::Say(
        "Deleting image snapshots because of cancellation or error...",
    )],
    delete_created_failed: "Error deleting image, it may still be around: {error}",
    find_failed: "Error looking for the image `{name}` this build may have made, it may still be around: {error}",
    copying: &[Text::Say("Coping image {id} from {region}...")],
    copying_to: &[Text::Message("Copying to: {region}")],
    waiting_copies: &[Text::Message("Waiting for all copies to complete...")],
    copy_wait_failed: "Error waiting for image ({id}) in region ({region}): {error}",
    replacing: &[Text::Say("Deleting the source image and its snapshots...")],
    deleting_copies: &[Text::Say(
        "Deleting copied images and snapshots because of cancellation or error...",
    )],
    delete_copy_failed: "Error deleting image in {region}, it may still be around: {error}",
    modifying: &[Text::Say("Sharing image {id} in {region}...")],
    modifying_snapshot: &[],
    share_snapshot_failed: "Failed sharing snapshot `{id}`: {error}",
    tagging: &[Text::Say("Adding tags to image: {id}")],
    tagging_snapshot: &[],
    image_tags: &[],
    snapshot_tags: &[Text::Say("Adding tags to snapshots of image: {id}")],
    tag: "Adding tag: \"{key}\": \"{value}\"",
    tag_image_failed: "Error Adding tags to image: {id}: {error}",
    tag_snapshots_failed: "Error Adding tags to snapshots in {region}: {error}",
    run_tags_failed: "Error adding the run tags to {id}: {error}",
    describe_failed: "Error describing image `{id}`: {error}",
    delete_failed: "Error deleting image `{id}`: {error}",
    delete_snapshot_failed: "Error deleting snapshot `{snapshot}` of image `{id}`: {error}",
};

impl Ecs {
    /// The images `params` selects, in every status.
    pub async fn describe_images(&self, params: Params) -> Result<Vec<Value>, ApiError> {
        let reply = self
            .call(
                "DescribeImages",
                &params.set("Status", ALL_STATUSES).set("PageSize", "50"),
            )
            .await?;
        Ok(items(&reply, "Images", "Image").to_vec())
    }
}

/// The snapshots an image (`DescribeImages`' entry) is made of.
pub fn image_snapshots(image: &Value) -> Vec<String> {
    items(image, "DiskDeviceMappings", "DiskDeviceMapping")
        .iter()
        .map(|d| text(d, "SnapshotId").to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[async_trait]
impl ImageApi for Ecs {
    type Create = Params;
    type Copy = CopyRequest;
    type Attribute = SharePermission;
    type Image = Value;

    async fn create(
        &self,
        image: &NewImage<Params>,
        _cancel: &CancellationToken,
    ) -> Result<String, StepError> {
        let params = image.request.clone().set("ClientToken", client_token());
        let find = || async { Ok(None) };
        let reply: Value = self
            .client
            .create("CreateImage", &params, &[], false, find)
            .await
            .map_err(|e| StepError::msg(format!("Error creating image: {e}")))?;
        match text(&reply, "ImageId") {
            "" => Err(StepError::msg(
                "Error creating image: ECS returned no image id",
            )),
            id => Ok(id.to_string()),
        }
    }

    async fn find_created(
        &self,
        name: &str,
        run_tags: &[(String, String)],
    ) -> Result<Option<String>, ApiError> {
        let found = self
            .describe_images(
                Params::new()
                    .set("ImageName", name)
                    .set("ImageOwnerAlias", "self")
                    .tags("Tag", &tag_map(run_tags)),
            )
            .await?;
        Ok(found.first().map(|i| text(i, "ImageId").to_string()))
    }

    async fn copy(
        &self,
        source_region: &str,
        source: &str,
        target: &CopyTarget<CopyRequest>,
        _cancel: &CancellationToken,
    ) -> Result<String, StepError> {
        let params = Params::new()
            .set("RegionId", source_region)
            .set("ImageId", source)
            .set("DestinationRegionId", target.region.as_str())
            .set("DestinationImageName", target.request.name.as_str())
            .opt("DestinationDescription", target.request.description.clone());
        let reply = self.call("CopyImage", &params).await.map_err(|e| {
            StepError::msg(format!(
                "Error copying images to region `{}`: {e}",
                target.region
            ))
        })?;
        Ok(text(&reply, "ImageId").to_string())
    }

    async fn describe(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let found = self
            .describe_images(Params::new().set("ImageId", id))
            .await?;
        Ok(found.into_iter().find(|i| text(i, "ImageId") == id))
    }

    fn status(&self, image: &Value) -> ImageStatus {
        let state = text(image, "Status").to_string();
        let phase = match state.as_str() {
            "Available" => ImagePhase::Available,
            "Creating" | "Waiting" | "" => ImagePhase::Pending,
            _ => ImagePhase::Failed,
        };
        ImageStatus {
            phase,
            state,
            reason: None,
        }
    }

    fn snapshots(&self, image: &Value) -> Vec<String> {
        image_snapshots(image)
    }

    async fn delete_image(&self, id: &str) -> Result<(), ApiError> {
        let params = Params::new().set("ImageId", id).set("Force", "true");
        self.delete("DeleteImage", &params, IMAGE_NOT_FOUND).await
    }

    async fn delete_snapshot(&self, id: &str) -> Result<(), ApiError> {
        let params = Params::new().set("SnapshotId", id).set("Force", "true");
        self.delete("DeleteSnapshot", &params, SNAPSHOT_NOT_FOUND)
            .await
    }

    async fn modify_image(
        &self,
        id: &str,
        change: &ImageChange<SharePermission>,
        _ui: &dyn Ui,
    ) -> Result<(), StepError> {
        let share = match change {
            ImageChange::Attribute(s) => s.clone(),
            ImageChange::Share(Sharing { accounts, .. }) => SharePermission {
                add: accounts.clone(),
                remove: Vec::new(),
            },
        };
        let params = Params::new()
            .set("ImageId", id)
            .list("AddAccount", &share.add)
            .list("RemoveAccount", &share.remove);
        self.call("ModifyImageSharePermission", &params)
            .await
            .map(drop)
            .map_err(|e| StepError::msg(format!("Failed modifying image share permissions: {e}")))
    }

    async fn share_snapshot(&self, _id: &str, _sharing: &Sharing) -> Result<(), ApiError> {
        // ECS shares an image's snapshots with the image.
        Ok(())
    }

    async fn tag(&self, ids: &[String], tags: &[(String, String)]) -> Result<(), ApiError> {
        // Snapshots (`s-…`) and images (`m-…`) are tagged separately.
        let (snapshots, images): (Vec<&String>, Vec<&String>) =
            ids.iter().partition(|id| id.starts_with("s-"));
        for (kind, ids) in [("image", images), ("snapshot", snapshots)] {
            if ids.is_empty() {
                continue;
            }
            let params = Params::new()
                .set("ResourceType", kind)
                .list("ResourceId", &ids)
                .tags("Tag", &tag_map(tags));
            self.call("TagResources", &params).await?;
        }
        Ok(())
    }

    fn wording(&self) -> &ImageWording {
        &WORDING
    }
}

impl ImageState for AlicloudState {
    type Api = Ecs;
    fn build_region(&self) -> String {
        self.ecs.region().to_string()
    }
    fn image_api(&self, region: &str) -> Ecs {
        self.ecs.for_region(region)
    }
    fn run_tags(&self) -> &[(String, String)] {
        // The images and their snapshots are the artifact: they do not
        // carry the run tags, so a `kiln cleanup` of the run never deletes
        // them (the steps delete them when the build fails).
        &[]
    }
    fn images(&self) -> std::collections::BTreeMap<String, String> {
        self.images.clone()
    }
    fn record_image(&mut self, region: &str, id: &str) {
        self.images.insert(region.to_string(), id.to_string());
    }
    fn snapshots(&self, region: &str) -> Vec<String> {
        self.snapshots.get(region).cloned().unwrap_or_default()
    }
    fn record_snapshots(&mut self, region: &str, snapshots: Vec<String>) {
        self.snapshots.insert(region.to_string(), snapshots);
    }
    fn forget_image(&mut self, region: &str) {
        self.images.remove(region);
        self.snapshots.remove(region);
    }
}
