//! `StepSourceImageInfo`: decides the source image. `source_image` is used
//! as it is; `source_image_name` and `source_image_filter` query Glance
//! (every page) and need exactly one match, or take the newest with
//! `most_recent`; `external_source_image_url` makes a temporary Glance
//! image (`bare`, the given format, the URL and format as properties, and
//! the run tags), imports it with Glance's `web-download` and waits until
//! it is active. Stores the image's id; its cleanup deletes the temporary
//! external image (recorded before the import), on success and failure
//! alike, as Packer does.

use async_trait::async_trait;
use kiln_cloud::steps::image::wait_available;
use kiln_cloud::Poller;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::{json, Value};

use crate::client::{Call, Service};
use crate::config::{ImageFilter, SourceImage};
use crate::OsState;

/// See the module docs.
pub struct StepSourceImageInfo {
    /// Where the source image comes from.
    pub source: SourceImage,
    /// The temporary external image's name (`packer_<uuid>`).
    pub external_name: String,
    /// Waits for the imported image.
    pub poller: Poller,
    /// The temporary external image, once created.
    created: Option<String>,
}

impl StepSourceImageInfo {
    /// A step finding `source`.
    pub fn new(source: SourceImage, external_name: String, poller: Poller) -> Self {
        StepSourceImageInfo {
            source,
            external_name,
            poller,
            created: None,
        }
    }
}

/// `filter` as Packer's messages show it.
fn describe(filter: &ImageFilter) -> String {
    let mut parts: Vec<String> = filter
        .query
        .iter()
        .map(|(k, v)| format!("{k}=`{v}`"))
        .collect();
    parts.extend(
        filter
            .properties
            .iter()
            .map(|(k, v)| format!("property {k}=`{v}`")),
    );
    parts.join(", ")
}

/// Whether `image` has every property of `filter`.
fn satisfies(image: &Value, filter: &ImageFilter) -> bool {
    filter
        .properties
        .iter()
        .all(|(k, v)| image[k].as_str() == Some(v.as_str()))
}

#[async_trait]
impl Step<OsState> for StepSourceImageInfo {
    fn name(&self) -> &'static str {
        "StepSourceImageInfo"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut OsState,
    ) -> Result<StepAction, StepError> {
        let c = state.os.client.clone();
        let filter = match &self.source {
            SourceImage::Id(id) => {
                state.source_image = Some(id.clone());
                return Ok(StepAction::Continue);
            }
            SourceImage::External {
                url,
                format,
                properties,
            } => {
                let name = &self.external_name;
                let mut body = json!({
                    "name": name, "container_format": "bare", "disk_format": format,
                    "packer_external_source_image_url": url,
                    "packer_external_source_image_format": format,
                });
                for (k, v) in properties
                    .iter()
                    .chain(state.run_tags.iter().map(|(k, v)| (k, v)))
                {
                    body[k] = json!(v);
                }
                cx.ui.say(&format!(
                    "Creating image using external source image with name {name}"
                ));
                cx.ui.say(&format!("Using disk format {format}"));
                let v = c
                    .call(
                        &Call::post(Service::Image, "CreateImage", "/images", body),
                        Some(&cx.cancel),
                    )
                    .await
                    .map_err(|e| StepError::msg(format!("Error creating source image: {e}")))?;
                let id = v["id"].as_str().unwrap_or_default().to_string();
                self.created = Some(id.clone());
                cx.ui.say(&format!("Created image with ID {id}"));
                cx.ui
                    .say(&format!("Importing External Source Image from URL {url}"));
                c.call(
                    &Call::post(
                        Service::Image,
                        "ImportImage",
                        format!("/images/{id}/import"),
                        json!({"method": {"name": "web-download", "uri": url}}),
                    ),
                    Some(&cx.cancel),
                )
                .await
                .map_err(|e| StepError::msg(format!("Error importing source image: {e}")))?;
                wait_available(&state.os, &self.poller, &id, &cx.cancel)
                    .await
                    .map_err(|e| match e {
                        StepError::Cancelled => StepError::Cancelled,
                        e => StepError::msg(format!("Error querying image: {e}")),
                    })?;
                state.source_image = Some(id);
                return Ok(StepAction::Continue);
            }
            SourceImage::Filter(f) => f.clone(),
        };
        let mut call = Call::get(Service::Image, "ListImages", "/images");
        call.query = filter.query.clone();
        let images = c
            .list_all(&call, "images")
            .await
            .map_err(|e| StepError::msg(format!("Error querying image: {e}")))?;
        let matching: Vec<&Value> = images.iter().filter(|i| satisfies(i, &filter)).collect();
        let image = match matching.as_slice() {
            [] => {
                return Err(StepError::msg(format!(
                    "No image was found matching filters: {}",
                    describe(&filter)
                )))
            }
            [one] => one,
            [newest, ..] if filter.most_recent => newest,
            many => {
                return Err(StepError::msg(format!(
                    "Error querying image: Your query returned more than one result ({}). Please try a more specific search, or set most_recent to true. Search filters: {}",
                    many.len(),
                    describe(&filter)
                )))
            }
        };
        let id = image["id"].as_str().unwrap_or_default().to_string();
        cx.ui.message(&format!("Found Image ID: {id}"));
        state.source_image = Some(id);
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut OsState) {
        let Some(id) = self.created.take() else {
            return;
        };
        cx.ui.say(&format!(
            "Deleting temporary external source image: {} ...",
            self.external_name
        ));
        let call = Call::delete(Service::Image, "DeleteImage", format!("/images/{id}"));
        if let Err(e) = state.os.client.delete(&call).await {
            cx.ui
                .error(&format!("error cleaning up external source image: {e}"));
        }
    }
}
