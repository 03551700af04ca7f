//! What Packer's openstack builder does to the image once it is active, in
//! its order, as [`StepUpdateImage`]s: `stepUpdateImageTags` (replace the
//! image's tags with `image_tags`), `stepUpdateImageVisibility`
//! (`image_visibility`), `stepAddImageMembers` (each of `image_members`,
//! then, with `image_auto_accept_members`, accept it for each) and
//! `stepUpdateImageMinDisk` (`image_min_disk`). With `skip_create_image`
//! each says it skips. They change only the image this build made, which
//! the create step deletes on failure: no cleanup.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::json;

use crate::client::{Call, Service};
use crate::OsState;

/// One change to the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageUpdate {
    /// `image_tags`.
    Tags(Vec<String>),
    /// `image_visibility`.
    Visibility(Option<String>),
    /// `image_members`, and whether to accept them.
    Members {
        /// The projects.
        members: Vec<String>,
        /// `image_auto_accept_members`.
        accept: bool,
    },
    /// `image_min_disk`.
    MinDisk(Option<u32>),
}

/// See the module docs.
pub struct StepUpdateImage {
    /// The change.
    pub update: ImageUpdate,
    /// `skip_create_image`: there is no image.
    pub skip: bool,
}

impl StepUpdateImage {
    /// A step making `update`, or saying it skips.
    pub fn new(update: ImageUpdate, skip: bool) -> Self {
        StepUpdateImage { update, skip }
    }
}

#[async_trait]
impl Step<OsState> for StepUpdateImage {
    fn name(&self) -> &'static str {
        match self.update {
            ImageUpdate::Tags(_) => "stepUpdateImageTags",
            ImageUpdate::Visibility(_) => "stepUpdateImageVisibility",
            ImageUpdate::Members { .. } => "stepAddImageMembers",
            ImageUpdate::MinDisk(_) => "stepUpdateImageMinDisk",
        }
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut OsState,
    ) -> Result<StepAction, StepError> {
        if self.skip {
            cx.ui.say(match self.update {
                ImageUpdate::Tags(_) => "Skipping image update tags...",
                ImageUpdate::Visibility(_) => "Skipping image update visibility...",
                ImageUpdate::Members { .. } => "Skipping image add members...",
                ImageUpdate::MinDisk(_) => "Skipping image update mindisk...",
            });
            return Ok(StepAction::Continue);
        }
        let Some(id) = state.images.values().next().cloned() else {
            return Err(StepError::msg("no image to update"));
        };
        let c = &state.os.client;
        let patch =
            |op: &'static str, ops: serde_json::Value| crate::client::patch_image(op, &id, ops);
        match &self.update {
            ImageUpdate::Tags(tags) if !tags.is_empty() => {
                cx.ui
                    .say(&format!("Updating image tags to {}", tags.join(", ")));
                c.call(
                    &patch(
                        "UpdateImage",
                        json!([{"op": "replace", "path": "/tags", "value": tags}]),
                    ),
                    Some(&cx.cancel),
                )
                .await
                .map_err(|e| StepError::msg(format!("Error updating image tags: {e}")))?;
            }
            ImageUpdate::Visibility(Some(v)) => {
                cx.ui.say(&format!("Updating image visibility to {v}"));
                c.call(
                    &patch(
                        "UpdateImage",
                        json!([{"op": "replace", "path": "/visibility", "value": v}]),
                    ),
                    Some(&cx.cancel),
                )
                .await
                .map_err(|e| StepError::msg(format!("Error updating image visibility: {e}")))?;
            }
            ImageUpdate::Members { members, accept } if !members.is_empty() => {
                for m in members {
                    cx.ui.say(&format!("Adding member '{m}' to image {id}"));
                    let add = Call::post(
                        Service::Image,
                        "CreateImageMember",
                        format!("/images/{id}/members"),
                        json!({"member": m}),
                    );
                    c.call(&add, Some(&cx.cancel)).await.map_err(|e| {
                        StepError::msg(format!("Error adding member to image: {e}"))
                    })?;
                }
                if *accept {
                    for m in members {
                        cx.ui.say(&format!("Accepting image {id} for member '{m}'"));
                        let update = Call::put(
                            Service::Image,
                            "UpdateImageMember",
                            format!("/images/{id}/members/{m}"),
                            json!({"status": "accepted"}),
                        );
                        c.call(&update, Some(&cx.cancel)).await.map_err(|e| {
                            StepError::msg(format!("Error accepting image for member: {e}"))
                        })?;
                    }
                }
            }
            ImageUpdate::MinDisk(Some(d)) => {
                cx.ui.say(&format!("Updating image min disk to {d}"));
                c.call(
                    &patch(
                        "UpdateImage",
                        json!([{"op": "replace", "path": "/min_disk", "value": d}]),
                    ),
                    Some(&cx.cancel),
                )
                .await
                .map_err(|e| StepError::msg(format!("Error updating image min disk: {e}")))?;
            }
            _ => {}
        }
        Ok(StepAction::Continue)
    }
}
