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
    CopyTarget, ImageApi, ImageChange, ImagePhase, ImageStatus, ImageWording, NewImage, Sharing,
    Text,
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
    /// `image_encrypted`: an encrypted copy (`Encrypted=true`).
    pub encrypted: bool,
    /// The run tags the copy carries until the build succeeds, so that
    /// `kiln cleanup` finds a copy a killed build left.
    pub run_tags: Vec<(String, String)>,
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
    // The only copy into the build region is the encrypted one.
    replacing: &[Text::Say(
        "Deleting temporary image {id} and related snapshots after finishing encryption...",
    )],
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
        // ECS honours the token; should a retry after a lost reply still
        // be refused for the name the first attempt took, the image of
        // that name carrying the same run tags is this build's.
        let params = image.request.clone().set("ClientToken", client_token());
        let find = || async {
            let mut tags = Params::new();
            for i in 1.. {
                let (key, value) = (format!("Tag.{i}.Key"), format!("Tag.{i}.Value"));
                let Some(k) = params.get(&key) else {
                    break;
                };
                tags = tags
                    .set(&key, k)
                    .set(&value, params.get(&value).unwrap_or(""));
            }
            if tags.get("Tag.1.Key").is_none() {
                return Ok(None);
            }
            let found = self
                .describe_images(
                    tags.set("ImageName", image.name.as_str())
                        .set("ImageOwnerAlias", "self"),
                )
                .await?;
            Ok(found
                .into_iter()
                .find(|i| text(i, "ImageName") == image.name)
                .map(|i| serde_json::json!({ "ImageId": text(&i, "ImageId") })))
        };
        let reply: Value = self
            .client
            .create(
                "CreateImage",
                &params,
                &["InvalidImageName.Duplicated"],
                false,
                find,
            )
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
            .opt("DestinationDescription", target.request.description.clone())
            .opt("Encrypted", target.request.encrypted.then_some("true"))
            .tags("Tag", &tag_map(&target.request.run_tags));
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
        ImageStatus::new(phase, state)
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

/// Takes the run tags off a successful build's images, in every region,
/// and off the system disk's snapshot it was made of (with
/// `image_ignore_data_disks`), so that a `kiln cleanup` of the run leaves
/// the artifact alone. A failure is reported, not fatal: the artifact
/// stands.
pub async fn release(state: &AlicloudState, ui: &dyn Ui) {
    let keys: Vec<&str> = state.run_tags.iter().map(|(k, _)| k.as_str()).collect();
    if keys.is_empty() {
        return;
    }
    let build = state.ecs.region().to_string();
    for (region, id) in &state.images {
        let ecs = state.ecs.for_region(region);
        let mut targets = vec![("image", id.clone())];
        if *region == build {
            targets.extend(
                state
                    .system_snapshot
                    .iter()
                    .map(|s| ("snapshot", s.clone())),
            );
        }
        for (kind, id) in targets {
            let params = Params::new()
                .set("ResourceType", kind)
                .list("ResourceId", &[id.as_str()])
                .list("TagKey", &keys);
            if let Err(e) = ecs.call("UntagResources", &params).await {
                ui.error(&format!(
                    "error removing the run tags from {kind} `{id}` in {region} (`kiln cleanup -run` of this run would delete it): {e}"
                ));
            }
        }
    }
}

kiln_cloud::impl_image_state!(AlicloudState, Ecs, images: images, snapshots: snapshots, {
    fn build_region(&self) -> String {
        self.ecs.region().to_string()
    }
    fn image_api(&self, region: &str) -> Ecs {
        self.ecs.for_region(region)
    }
    fn run_tags(&self) -> &[(String, String)] {
        // The images carry the run tags from their create and copy calls
        // (`kiln cleanup` finds their snapshots through them), and lose
        // them when the build succeeds ([`release`]); the generic steps add
        // none.
        &[]
    }
});
