//! The huaweicloud-ecs artifact: the image made, with the plugin's builder
//! ID (`huawei.huaweicloud`), id (the image id) and description; `destroy`
//! deletes it (Glance's delete; gone already is fine). Holds the client.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use kiln_cloud::steps::image::destroy_images;
use kiln_sdk::artifact::{Artifact, ArtifactError};

use crate::cloud::Hw;

/// The plugin's builder ID.
pub const BUILDER_ID: &str = "huawei.huaweicloud";

/// See the module docs.
#[derive(Debug)]
pub struct HuaweiArtifact {
    /// The image, by region.
    pub images: BTreeMap<String, String>,
    /// The client of the build's region.
    pub hw: Hw,
    /// Generated data, secrets left out.
    pub generated: BTreeMap<String, String>,
}

#[async_trait]
impl Artifact for HuaweiArtifact {
    fn builder_id(&self) -> &str {
        BUILDER_ID
    }
    fn id(&self) -> String {
        self.images.values().cloned().collect::<Vec<_>>().join(";")
    }
    fn files(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    fn describe(&self) -> String {
        format!("An image was created: {}", self.id())
    }
    fn state(&self, key: &str) -> Option<serde_json::Value> {
        match key {
            "generated_data" if !self.generated.is_empty() => {
                Some(serde_json::json!(self.generated))
            }
            _ => None,
        }
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        destroy_images(&self.images, |_| self.hw.clone())
            .await
            .map_err(|e| ArtifactError {
                id: self.id(),
                message: e.to_string(),
            })
    }
}
