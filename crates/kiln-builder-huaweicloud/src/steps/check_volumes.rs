//! `StepCheckVolumes`: the `data_disks` as `CreatePostPaidServers`'
//! `data_volumes` (`volumetype`, `size`, `data_image_id`), a disk made from
//! a data image sized to the image's minimum disk, which IMS's `ListImages`
//! (`id=`) tells, as the plugin's `StepCheckVolumes` does (an image that
//! is not there fails the build, naming the disk). Stores them in
//! `HuaweiState::data_volumes`; creates nothing (the disks are made with
//! the server and deleted with it), nothing to clean up.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::{json, Value};

use crate::client::Call;
use crate::config::{DataDisk, DataDiskSource, Service};
use crate::HuaweiState;

/// See the module docs.
pub struct StepCheckVolumes {
    /// `data_disks`.
    pub disks: Vec<DataDisk>,
}

#[async_trait]
impl Step<HuaweiState> for StepCheckVolumes {
    fn name(&self) -> &'static str {
        "StepCheckVolumes"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut HuaweiState,
    ) -> Result<StepAction, StepError> {
        let mut volumes = Vec::new();
        for (i, disk) in self.disks.iter().enumerate() {
            let mut volume = json!({"volumetype": disk.volume_type});
            match &disk.source {
                DataDiskSource::Size(size) => volume["size"] = json!(size),
                DataDiskSource::Image(id) => {
                    let call = Call::get(Service::Ims, "ListImages", "/v2/cloudimages")
                        .query("id", id.clone());
                    let v = state
                        .hw
                        .client
                        .call(&call, Some(&cx.cancel))
                        .await
                        .map_err(|e| StepError::msg(format!("data_disks[{i}]: {e}")))?;
                    let image: Option<&Value> = v["images"]
                        .as_array()
                        .and_then(|a| a.iter().find(|img| img["id"] == json!(id)));
                    let Some(image) = image else {
                        return Err(StepError::msg(format!(
                            "data_disks[{i}]: can not find the image `{id}`"
                        )));
                    };
                    volume["size"] = image["min_disk"].clone();
                    volume["data_image_id"] = json!(id);
                }
            }
            volumes.push(volume);
        }
        state.data_volumes = volumes;
        Ok(StepAction::Continue)
    }
}
