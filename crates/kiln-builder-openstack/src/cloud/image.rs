//! `ImageApi` on [`Os`]: the image is made by Nova's `createImage` action
//! on the stopped server (its id from the reply's `Location`, or
//! `image_id` in newer microversions), or, for a block-storage build, by
//! Cinder's `os-volume_upload_image` of the root volume; its properties
//! (`metadata`) carry the run tags, so that the image of a create whose
//! reply was lost is found by name and run tags. Glance answers for it
//! afterwards: `GET /v2/images/{id}` (`queued`, `saving`, `active`;
//! `killed` and `deleted` have failed), `DELETE` (404 is gone), and
//! properties added by JSON patch. Images own their data: no snapshots.
//! The lines are Packer's.

use std::collections::BTreeMap;

use async_trait::async_trait;
use kiln_cloud::steps::call_error;
use kiln_cloud::steps::image::{
    CopyTarget, ImageApi, ImagePhase, ImageStatus, ImageWording, NewImage, Text,
};
use kiln_cloud::ApiError;
use kiln_sdk::step::StepError;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{carries, text, Os};
use crate::client::{not_found, Call, Service};

/// What the image is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRequest {
    /// Nova's `createImage` of the stopped server.
    Server {
        /// The server.
        server: String,
        /// The image's properties (`metadata`, with the run tags).
        metadata: BTreeMap<String, String>,
    },
    /// Cinder's `os-volume_upload_image` of the detached root volume.
    Volume {
        /// The volume.
        volume: String,
        /// `image_disk_format` (Cinder's default, `raw`, when unset).
        disk_format: Option<String>,
        /// Its properties, set on the volume before the upload.
        metadata: BTreeMap<String, String>,
    },
}

/// Packer's wording.
pub const WORDING: ImageWording = ImageWording {
    noun: "image",
    cloud: "Glance",
    created: &[Text::Message("Image: {id}")],
    waiting: &[Text::Say(
        "Waiting for image {name} (image id: {id}) to become ready...",
    )],
    deleting_created: &[Text::Say(
        "Deleting the image {id} because of cancellation or error...",
    )],
    delete_created_failed: "Error deleting image, it may still be around: {error}",
    ..ImageWording::GENERIC
};

#[async_trait]
impl ImageApi for Os {
    type Create = CreateRequest;
    type Copy = ();
    type Attribute = ();
    /// Glance's image.
    type Image = Value;

    async fn create(
        &self,
        image: &NewImage<CreateRequest>,
        cancel: &CancellationToken,
    ) -> Result<String, StepError> {
        let c = &self.client;
        let name = &image.name;
        let run_tags: Vec<(String, String)>;
        let call = match &image.request {
            CreateRequest::Server { server, metadata } => {
                run_tags = metadata
                    .iter()
                    .filter(|(k, _)| k.starts_with("kiln:"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Call::post(
                    Service::Compute,
                    "CreateServerImage",
                    format!("/servers/{server}/action"),
                    json!({"createImage": {"name": name, "metadata": metadata}}),
                )
            }
            CreateRequest::Volume {
                volume,
                disk_format,
                metadata,
            } => {
                run_tags = Vec::new();
                if !metadata.is_empty() {
                    let set = Call::post(
                        Service::BlockStorage,
                        "SetVolumeImageMetadata",
                        format!("/volumes/{volume}/action"),
                        json!({"os-set_image_metadata": {"metadata": metadata}}),
                    );
                    c.call(&set, Some(cancel)).await.map_err(|e| {
                        call_error(cancel, format!("Error setting image metadata: {e}"))
                    })?;
                }
                let mut upload = json!({"image_name": name, "force": true});
                if let Some(f) = disk_format {
                    upload["disk_format"] = json!(f);
                }
                Call::post(
                    Service::BlockStorage,
                    "UploadVolumeImage",
                    format!("/volumes/{volume}/action"),
                    json!({"os-volume_upload_image": upload}),
                )
            }
        };
        let v = if run_tags.is_empty() {
            let reply = c
                .call_reply(&call, Some(cancel))
                .await
                .map_err(|e| call_error(cancel, format!("Error creating image: {e}")))?;
            let mut body = reply.body;
            if let Some(loc) = reply.location {
                body["location"] = json!(loc);
            }
            body
        } else {
            let tags = &run_tags;
            // A create whose reply was lost: the image of that name with
            // the run tags is this build's.
            c.create(&call, || async move {
                Ok(find(self, name, tags)
                    .await
                    .map_err(|e| e.fault)?
                    .map(|id| json!({"image_id": id})))
            })
            .await
            .map_err(|e| call_error(cancel, format!("Error creating image: {e}")))?
        };
        let id = v["image_id"]
            .as_str()
            .or_else(|| v["os-volume_upload_image"]["image_id"].as_str())
            .map(String::from)
            .or_else(|| {
                v["location"]
                    .as_str()
                    .and_then(|l| l.trim_end_matches('/').rsplit('/').next())
                    .map(String::from)
            });
        match id {
            Some(id) => Ok(id),
            // Nova 2.1 answers with the `Location` header only: find it.
            None => match find(self, name, &run_tags).await {
                Ok(Some(id)) => Ok(id),
                _ => Err(StepError::msg(format!(
                    "Error creating image: the reply named no image: {v}"
                ))),
            },
        }
    }

    async fn find_created(
        &self,
        name: &str,
        run_tags: &[(String, String)],
    ) -> Result<Option<String>, ApiError> {
        find(self, name, run_tags).await
    }

    async fn copy(
        &self,
        _source_region: &str,
        _source: &str,
        _target: &CopyTarget<()>,
        _cancel: &CancellationToken,
    ) -> Result<String, StepError> {
        Err(StepError::msg("the openstack builder copies no images"))
    }

    async fn describe(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let call = Call::get(Service::Image, "ShowImage", format!("/images/{id}"));
        match self.client.call(&call, None).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn status(&self, image: &Value) -> ImageStatus {
        let state = text(image, "status");
        let phase = match state.as_str() {
            "active" => ImagePhase::Available,
            "killed" | "deleted" | "pending_delete" | "deactivated" => ImagePhase::Failed,
            _ => ImagePhase::Pending,
        };
        ImageStatus::new(phase, state)
    }

    async fn delete_image(&self, id: &str) -> Result<(), ApiError> {
        self.client
            .delete(&Call::delete(
                Service::Image,
                "DeleteImage",
                format!("/images/{id}"),
            ))
            .await
    }

    async fn tag(&self, ids: &[String], tags: &[(String, String)]) -> Result<(), ApiError> {
        for id in ids {
            let ops: Vec<Value> = tags
                .iter()
                .map(|(k, v)| json!({"op": "add", "path": format!("/{k}"), "value": v}))
                .collect();
            self.client
                .call(
                    &crate::client::patch_image("UpdateImage", id, json!(ops)),
                    None,
                )
                .await?;
        }
        Ok(())
    }

    fn wording(&self) -> &ImageWording {
        &WORDING
    }
}

/// The image named `name` whose properties carry `run_tags`.
async fn find(
    os: &Os,
    name: &str,
    run_tags: &[(String, String)],
) -> Result<Option<String>, ApiError> {
    if run_tags.is_empty() {
        return Ok(None);
    }
    let list = Call::get(Service::Image, "ListImages", "/images").query("name", name);
    let images = os.client.list_all(&list, "images").await?;
    Ok(images
        .iter()
        .find(|i| carries(i, run_tags))
        .map(|i| text(i, "id")))
}
