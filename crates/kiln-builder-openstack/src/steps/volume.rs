//! Cinder's volumes for a block-storage build (`use_blockstorage_volume`):
//! [`wait_volume`] waits until a volume is `available`, and
//! [`volume_size`] sizes the root volume from the source image (its
//! `min_disk`, else its size rounded up to whole GB), as Packer does.
//! Holds nothing.

use kiln_cloud::steps::wait_error;
use kiln_cloud::{CheckError, Poller, Status};
use kiln_sdk::step::StepError;
use tokio_util::sync::CancellationToken;

use crate::client::{Call, Client, Service};

/// Waits until volume `id` is `available`; `error` ends the wait.
pub async fn wait_volume(
    client: &Client,
    poller: &Poller,
    id: &str,
    cancel: &CancellationToken,
) -> Result<(), StepError> {
    let call = Call::get(
        Service::BlockStorage,
        "ShowVolume",
        format!("/volumes/{id}"),
    );
    let call = &call;
    poller
        .wait(
            &format!("volume ({id}) to become available"),
            cancel,
            || async move {
                let v = client.call(call, None).await.map_err(CheckError::from)?;
                match v["volume"]["status"].as_str().unwrap_or("") {
                    "available" => Ok(Status::Ready(())),
                    "error" => Err(CheckError::Failed("The status of volume is error".into())),
                    s => Ok(Status::Pending(s.to_string())),
                }
            },
        )
        .await
        .map_err(wait_error)
}

/// The root volume's size in GB for source image `image` (Glance's).
pub fn volume_size(image: &serde_json::Value) -> u64 {
    if let Some(d) = image["min_disk"].as_u64().filter(|d| *d > 0) {
        return d;
    }
    let bytes = image["size"].as_u64().unwrap_or(0);
    let gb = bytes / 1024 / 1024 / 1024;
    if !(bytes / 1024 / 1024).is_multiple_of(1024) {
        gb + 1
    } else {
        gb
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_volume_is_the_images_min_disk_or_its_size_rounded_up() {
        assert_eq!(volume_size(&json!({"min_disk": 8, "size": 1})), 8);
        assert_eq!(volume_size(&json!({"min_disk": 0, "size": 1u64 << 30})), 1);
        assert_eq!(volume_size(&json!({"size": (1u64 << 30) + (5 << 20)})), 2);
        assert_eq!(volume_size(&json!({"size": 64u64 << 20})), 1);
    }
}
