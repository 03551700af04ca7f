//! `ImageApi` on [`Hw`]: IMS's `CreateImage` (or `CreateWholeImage`, a
//! full-ECS image through a CBR vault) from the stopped server is a job, waited on here until it names the image (which carries the
//! `image_tags` and the run tags; after a lost reply it is found by name
//! and run tag); images are looked at with `ListImages` (`queued`,
//! `saving`, `active`), deleted with Glance's `DELETE /v2/images/{id}`
//! once IMS has finished making them (404: gone) and tagged with
//! `AddImageTag`. Huawei images have no snapshots of their own, and
//! copies to other regions are not part of the plugin: those calls do
//! nothing or refuse. The lines are the plugin's.

use std::time::Duration;

use async_trait::async_trait;
use kiln_cloud::steps::image::{
    wait_available, CopyTarget, ImageApi, ImagePhase, ImageStatus, ImageWording, NewImage, Text,
};
use kiln_cloud::steps::wait_error;
use kiln_cloud::{ApiError, CheckError, PollError, Poller, Status};
use kiln_sdk::step::StepError;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{text, wait_job, Hw};
use crate::client::Call;
use crate::config::Service;

/// How long deleting an image waits for IMS to finish making it.
const DELETE_WAIT: Duration = Duration::from_secs(600);

/// The plugin's wording.
pub const WORDING: ImageWording = ImageWording {
    noun: "image",
    cloud: "IMS",
    created: &[Text::Message("Image: {id}")],
    waiting: &[],
    deleting_created: &[Text::Say("Deleting the image because of cancellation or error...")],
    find_failed: "Error looking for the image `{name}` this build may have made, it may still be around: {error}",
    ..ImageWording::GENERIC
};

/// The image request: `CreateImage`'s body, and how long its job may take.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// The body (`name`, `instance_id`, `description`, `image_tags`, …).
    pub body: Value,
    /// A full-ECS image (`image_type` `full-ecs`): `CreateWholeImage`
    /// (`/v1/cloudimages/wholeimages/action`, with `vault_id`) instead.
    pub whole: bool,
    /// The run tags (also in `image_tags`): after a lost reply, the image
    /// the first attempt started is the one of this name that carries them.
    pub run_tags: Vec<(String, String)>,
    /// Polls the job (`wait_image_ready_timeout`).
    pub poller: Poller,
}

impl PartialEq for CreateRequest {
    fn eq(&self, other: &Self) -> bool {
        self.body == other.body && self.whole == other.whole
    }
}

#[async_trait]
impl ImageApi for Hw {
    type Create = CreateRequest;
    type Copy = ();
    type Attribute = ();
    type Image = Value;

    async fn create(
        &self,
        image: &NewImage<CreateRequest>,
        cancel: &CancellationToken,
    ) -> Result<String, StepError> {
        let c = &self.client;
        let (op, path) = if image.request.whole {
            ("CreateWholeImage", "/v1/cloudimages/wholeimages/action")
        } else {
            ("CreateImage", "/v2/cloudimages/action")
        };
        let call = Call::post(Service::Ims, op, path, image.request.body.clone());
        let wanted = (image.name.as_str(), image.request.run_tags.as_slice());
        // A retry after a lost reply would start a second image (or be
        // refused while the first is made): the image the first attempt
        // started is adopted instead, when the run tags can tell it.
        let started = c
            .create(&call, || async move {
                if wanted.1.is_empty() {
                    return Ok(None);
                }
                let found = self
                    .find_created(wanted.0, wanted.1)
                    .await
                    .map_err(|e| e.fault)?;
                Ok(found.map(|id| json!({ "adopted": id })))
            })
            .await
            .map_err(|e| StepError::msg(format!("Error creating image: {e}")))?;
        if let Some(id) = started["adopted"].as_str() {
            wait_available(self, &image.request.poller, id, cancel).await?;
            return Ok(id.to_string());
        }
        let job_id = text(&started, "job_id");
        let done = wait_job(
            c,
            Service::Ims,
            &job_id,
            &format!("image `{}`", image.name),
            &image.request.poller,
            cancel,
        )
        .await
        .map_err(wait_error)?;
        done["entities"]["image_id"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| {
                StepError::msg(format!(
                    "Error extracting image id: the job `{job_id}` names none"
                ))
            })
    }

    async fn find_created(
        &self,
        name: &str,
        run_tags: &[(String, String)],
    ) -> Result<Option<String>, ApiError> {
        let mut call = Call::get(Service::Ims, "ListImages", "/v2/cloudimages").query("name", name);
        if let Some((k, v)) = run_tags.first() {
            call = call.query("tag", format!("{k}={v}"));
        }
        let v = self.client.call(&call, None).await?;
        Ok(v["images"]
            .as_array()
            .and_then(|a| a.first())
            .map(|i| text(i, "id")))
    }

    async fn copy(
        &self,
        _source_region: &str,
        _source: &str,
        _target: &CopyTarget<()>,
        _cancel: &CancellationToken,
    ) -> Result<String, StepError> {
        Err(StepError::msg(
            "copying images to other regions is not part of the huaweicloud-ecs builder",
        ))
    }

    async fn describe(&self, id: &str) -> Result<Option<Value>, ApiError> {
        let call = Call::get(Service::Ims, "ListImages", "/v2/cloudimages").query("id", id);
        let v = self.client.call(&call, None).await?;
        Ok(v["images"].as_array().and_then(|a| a.first()).cloned())
    }

    fn status(&self, image: &Value) -> ImageStatus {
        let state = text(image, "status");
        let phase = match state.as_str() {
            "active" => ImagePhase::Available,
            "killed" | "deleted" => ImagePhase::Failed,
            _ => ImagePhase::Pending,
        };
        ImageStatus::new(phase, state)
    }

    async fn delete_image(&self, id: &str) -> Result<(), ApiError> {
        // IMS refuses to delete an image it is still making (a build
        // cancelled while the image's job ran): wait until it is made.
        let made = Poller::tracking(
            DELETE_WAIT,
            Duration::from_millis(200),
            Duration::from_secs(10),
        )
        .wait(
            &format!("image ({id}) to be made before deleting it"),
            &CancellationToken::new(),
            || async move {
                match self.describe(id).await? {
                    Some(i) if self.status(&i).phase == ImagePhase::Pending => {
                        Ok::<_, CheckError>(Status::Pending(text(&i, "status")))
                    }
                    _ => Ok(Status::Ready(())),
                }
            },
        )
        .await;
        if let Err(PollError::Failed {
            error: CheckError::Api(e),
            ..
        }) = made
        {
            return Err(e);
        }
        self.client
            .delete(&Call::delete(
                Service::Ims,
                "GlanceDeleteImage",
                format!("/v2/images/{id}"),
            ))
            .await
    }

    async fn tag(&self, ids: &[String], tags: &[(String, String)]) -> Result<(), ApiError> {
        for id in ids {
            for (k, v) in tags {
                let call = Call::post(
                    Service::Ims,
                    "AddImageTag",
                    self.client.path("/v2", &format!("/images/{id}/tags")),
                    json!({"tag": {"key": k, "value": v}}),
                );
                self.client.call(&call, None).await?;
            }
        }
        Ok(())
    }

    fn wording(&self) -> &ImageWording {
        &WORDING
    }
}
