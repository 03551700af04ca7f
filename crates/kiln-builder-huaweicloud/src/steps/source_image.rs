//! `StepSourceImageInfo`: the source image, `source_image` as it is, else
//! the one active image `source_image_name` or `source_image_filter` finds
//! (IMS `ListImages`, newest first; several are an error unless
//! `most_recent`). Stores its id in `HuaweiState::source_image`; creates
//! nothing, nothing to clean up.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::Call;
use crate::config::{Service, SourceImage};
use crate::HuaweiState;

/// See the module docs.
pub struct StepSourceImageInfo {
    /// Where the image comes from.
    pub source: SourceImage,
}

#[async_trait]
impl Step<HuaweiState> for StepSourceImageInfo {
    fn name(&self) -> &'static str {
        "StepSourceImageInfo"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut HuaweiState,
    ) -> Result<StepAction, StepError> {
        let (query, most_recent) = match &self.source {
            SourceImage::Id(id) => {
                state.source_image = Some(id.clone());
                return Ok(StepAction::Continue);
            }
            SourceImage::Filter { query, most_recent } => (query, *most_recent),
        };
        let c = &state.hw.client;
        let mut call = Call::get(Service::Ims, "ListImages", "/v2/cloudimages")
            .query("status", "active")
            .query("sort_key", "created_at")
            .query("sort_dir", "desc");
        for (k, v) in query {
            call = call.query(k, v.clone());
        }
        let filters = query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let v = c
            .call(&call, Some(&cx.cancel))
            .await
            .map_err(|e| StepError::msg(format!("error querying image: {e}")))?;
        let images = v["images"].as_array().cloned().unwrap_or_default();
        let id = match (images.len(), most_recent) {
            (0, _) => return Err(StepError::msg(format!("no image was found matching filters: {filters}"))),
            (1, _) | (_, true) => images[0]["id"].as_str().unwrap_or("").to_string(),
            _ => {
                return Err(StepError::msg(format!(
                    "your query returned more than one result; please try a more specific search, or set most_recent to true. Search filters: {filters}"
                )))
            }
        };
        cx.ui.message(&format!("Found Image ID: {id}"));
        state.source_image = Some(id);
        Ok(StepAction::Continue)
    }
}
