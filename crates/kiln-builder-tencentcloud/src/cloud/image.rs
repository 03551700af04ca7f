//! tencentcloud-cvm's side of kiln-cloud's image family
//! ([`kiln_cloud::steps::image`]): `CreateImage` (adopted by name on a
//! retry after a lost reply), `SyncImages` to copy into another region
//! (the copy's id from the reply, else found by name there),
//! `DescribeImages`, `DeleteImages` (unshared first, waited for while the
//! image is still being made), `ModifyImageSharePermission`, and the Tag
//! API for the run tags of copies; Packer's tencentcloud wording. CVM
//! images own their snapshots: there are none to list or delete apart.
//! [`release`] takes the run tags off a finished build's images. Holds
//! nothing; the steps' cleanups delete what they made.

use std::time::Duration;

use async_trait::async_trait;
use kiln_cloud::steps::image::{
    CopyTarget, ImageApi, ImageChange, ImagePhase, ImageStatus, ImageWording, NewImage, Text,
};
use kiln_cloud::ApiError;
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{items, text, Cvm};
use crate::TencentState;

const NOT_FOUND: &[&str] = &["InvalidImageId.NotFound"];
const DUPLICATE: &[&str] = &["InvalidImageName.Duplicate"];
const BUSY: &[&str] = &["InvalidImageId.IncorrectState"];
/// How often a delete refused while the image is still being made is
/// tried (cleanup of a build stopped mid-copy).
const BUSY_ATTEMPTS: u64 = 120;

/// Packer's tencentcloud wording for the image steps.
pub const WORDING: ImageWording = ImageWording {
    noun: "image",
    cloud: "CVM",
    created: &[],
    waiting: &[Text::Message("Waiting for image ready")],
    deleting_created: &[Text::Say(
        "Delete image because of cancellation or error...",
    )],
    delete_created_failed: "delete image failed, it may still be around: {error}",
    copying: &[],
    copying_to: &[Text::Say("Trying to copy image to: {region}...")],
    waiting_copies: &[Text::Message("Waiting for image ready")],
    replacing: &[],
    deleting_copies: &[Text::Say(
        "Delete copied images because of cancellation or error...",
    )],
    delete_copy_failed: "delete image in {region} failed, it may still be around: {error}",
    modifying: &[],
    ..ImageWording::GENERIC
};

/// The copy request for one region: the image's name there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRequest {
    /// `image_name`: how the copy is found when `SyncImages` does not say.
    pub name: String,
}

impl Cvm {
    /// The id of this region's image named `name`, if any.
    async fn image_named(&self, name: &str) -> Result<Option<String>, ApiError> {
        Ok(self
            .images_named(name)
            .await?
            .iter()
            .find(|i| text(i, "ImageName") == name && text(i, "ImageType") != "PUBLIC_IMAGE")
            .map(|i| text(i, "ImageId").to_string()))
    }

    /// Cancels every share of image `id`.
    async fn unshare(&self, id: &str) -> Result<(), ApiError> {
        let reply = match self
            .cvm
            .call(
                "DescribeImageSharePermission",
                &json!({ "ImageId": id }),
                None,
            )
            .await
        {
            Ok(r) => r,
            Err(e) if e.is(NOT_FOUND) => return Ok(()),
            Err(e) => return Err(e),
        };
        let accounts: Vec<&str> = items(&reply, "SharePermissionSet")
            .iter()
            .map(|p| text(p, "AccountId"))
            .collect();
        if accounts.is_empty() {
            return Ok(());
        }
        self.cvm
            .call(
                "ModifyImageSharePermission",
                &json!({"ImageId": id, "AccountIds": accounts, "Permission": "CANCEL"}),
                None,
            )
            .await
            .map(drop)
    }
}

#[async_trait]
impl ImageApi for Cvm {
    type Create = Value;
    type Copy = CopyRequest;
    type Attribute = ();
    type Image = Value;

    async fn create(
        &self,
        image: &NewImage<Value>,
        _cancel: &CancellationToken,
    ) -> Result<String, StepError> {
        let find = || async {
            Ok(self
                .image_named(&image.name)
                .await?
                .map(|id| json!({ "ImageId": id })))
        };
        let reply = self
            .cvm
            .create("CreateImage", &image.request, DUPLICATE, false, find)
            .await
            .map_err(|e| StepError::msg(format!("create image failed: {e}")))?;
        match text(&reply, "ImageId") {
            "" => self
                .image_named(&image.name)
                .await
                .map_err(|e| StepError::msg(format!("create image failed: {e}")))?
                .ok_or_else(|| StepError::msg(format!("create image(`{}`) failed", image.name))),
            id => Ok(id.to_string()),
        }
    }

    async fn find_created(
        &self,
        name: &str,
        run_tags: &[(String, String)],
    ) -> Result<Option<String>, ApiError> {
        let tagged = |i: &Value| {
            run_tags.iter().all(|(k, v)| {
                items(i, "Tags")
                    .iter()
                    .any(|t| text(t, "Key") == k && text(t, "Value") == v)
            })
        };
        Ok(self
            .images_named(name)
            .await?
            .iter()
            .find(|i| text(i, "ImageName") == name && tagged(i))
            .map(|i| text(i, "ImageId").to_string()))
    }

    async fn copy(
        &self,
        source_region: &str,
        source: &str,
        target: &CopyTarget<CopyRequest>,
        _cancel: &CancellationToken,
    ) -> Result<String, StepError> {
        let from = self.for_region(source_region);
        let body = json!({"ImageIds": [source], "DestinationRegions": [target.region]});
        // A retry after a lost reply finds the copy there by name: adopt it.
        let find = || async {
            Ok(self
                .image_named(&target.request.name)
                .await?
                .map(|id| json!({"ImageSet": [{"Region": target.region, "SyncImageId": id}]})))
        };
        let failed = |e: String| StepError::msg(format!("Failed to copy image: {e}"));
        let reply = from
            .cvm
            .create("SyncImages", &body, DUPLICATE, false, find)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if let Some(id) = items(&reply, "ImageSet")
            .iter()
            .find(|i| text(i, "Region") == target.region)
            .map(|i| text(i, "SyncImageId"))
            .filter(|id| !id.is_empty())
        {
            return Ok(id.to_string());
        }
        // Older API versions say nothing: the copy is found by name.
        for n in 0..30u64 {
            if let Some(id) = self
                .image_named(&target.request.name)
                .await
                .map_err(|e| failed(e.to_string()))?
            {
                return Ok(id);
            }
            tokio::time::sleep(Duration::from_millis(200 * (n + 1).min(10))).await;
        }
        Err(failed(format!(
            "no image `{}` appeared in `{}`",
            target.request.name, target.region
        )))
    }

    async fn describe(&self, id: &str) -> Result<Option<Value>, ApiError> {
        match self
            .cvm
            .call("DescribeImages", &json!({ "ImageIds": [id] }), None)
            .await
        {
            Ok(reply) => Ok(items(&reply, "ImageSet")
                .iter()
                .find(|i| text(i, "ImageId") == id)
                .cloned()),
            Err(e) if e.is(NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn status(&self, image: &Value) -> ImageStatus {
        let state = text(image, "ImageState").to_string();
        let phase = match state.as_str() {
            "NORMAL" => ImagePhase::Available,
            "CREATEFAILED" | "IMPORTFAILED" | "SYNC_FAILED" => ImagePhase::Failed,
            _ => ImagePhase::Pending,
        };
        ImageStatus::new(phase, state)
    }

    async fn delete_image(&self, id: &str) -> Result<(), ApiError> {
        self.unshare(id).await?;
        let mut n = 0u64;
        loop {
            match self
                .cvm
                .delete("DeleteImages", &json!({ "ImageIds": [id] }), NOT_FOUND)
                .await
            {
                // Still being made (a build stopped mid-copy): wait for it.
                Err(e) if e.is(BUSY) && n < BUSY_ATTEMPTS => {
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(250 * n.min(8))).await;
                }
                r => return r,
            }
        }
    }

    async fn modify_image(
        &self,
        id: &str,
        change: &ImageChange<()>,
        ui: &dyn Ui,
    ) -> Result<(), StepError> {
        let ImageChange::Share(sharing) = change else {
            return Ok(());
        };
        ui.say(&format!(
            "Trying to share image to: {}...",
            sharing.accounts.join(",")
        ));
        self.cvm
            .call(
                "ModifyImageSharePermission",
                &json!({"ImageId": id, "AccountIds": sharing.accounts, "Permission": "SHARE"}),
                None,
            )
            .await
            .map_err(|e| StepError::msg(format!("share image failed: {e}")))?;
        ui.message("Image shared");
        Ok(())
    }

    async fn tag(&self, ids: &[String], tags: &[(String, String)]) -> Result<(), ApiError> {
        let resources: Vec<String> = ids
            .iter()
            .map(|id| self.resource_name("image", id))
            .collect();
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
            .collect();
        self.tag
            .call(
                "TagResources",
                &json!({"ResourceList": resources, "Tags": tags}),
                None,
            )
            .await
            .map(drop)
    }

    fn wording(&self) -> &ImageWording {
        &WORDING
    }
}

kiln_cloud::impl_image_state!(TencentState, Cvm, {
    fn build_region(&self) -> String {
        self.cvm.region().to_string()
    }
    fn image_api(&self, region: &str) -> Cvm {
        self.cvm.for_region(region)
    }
    fn run_tags(&self) -> &[(String, String)] {
        &self.run_tags
    }
});

/// Takes the run tags off the finished build's images (they are the
/// artifact now: `kiln cleanup` of this run must leave them); a failure
/// is reported, not fatal.
pub async fn release(state: &TencentState, ui: &dyn Ui) {
    if state.run_tags.is_empty() {
        return;
    }
    let keys: Vec<&str> = state.run_tags.iter().map(|(k, _)| k.as_str()).collect();
    for (region, id) in &state.images {
        let c = state.cvm.for_region(region);
        let body = json!({"ResourceList": [c.resource_name("image", id)], "TagKeys": keys});
        if let Err(e) = c.tag.call("UnTagResources", &body, None).await {
            ui.error(&format!(
                "could not take the run tags off image `{id}` in `{region}` (`kiln cleanup` of this run would delete it): {e}"
            ));
        }
    }
}
