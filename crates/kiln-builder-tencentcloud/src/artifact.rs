//! The tencentcloud-cvm artifact (Packer's tencentcloud `Artifact`): the
//! images made, by region. Id `region:image-id[,…]` sorted, builder id
//! `tencent.cloud`, Packer's "Tencentcloud images(…) were created:" text.
//! `destroy` deletes every image (unshared first) in every region through
//! kiln-cloud's generic [`destroy_images`]; what is gone already is no
//! error. Stores ids and the clients; nothing is held open.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use kiln_cloud::steps::image::destroy_images;
use kiln_sdk::artifact::{Artifact, ArtifactError};

use crate::cloud::Cvm;

/// Packer's builder id for tencentcloud-cvm.
pub const BUILDER_ID: &str = "tencent.cloud";

/// See the module docs.
#[derive(Clone, Debug)]
pub struct TencentArtifact {
    /// Image ids by region.
    pub images: BTreeMap<String, String>,
    /// The build region's clients, for `destroy`.
    pub cvm: Cvm,
    /// Generated data, for `generated_data` state.
    pub generated: BTreeMap<String, String>,
}

#[async_trait]
impl Artifact for TencentArtifact {
    fn builder_id(&self) -> &str {
        BUILDER_ID
    }
    fn id(&self) -> String {
        self.images
            .iter()
            .map(|(r, i)| format!("{r}:{i}"))
            .collect::<Vec<_>>()
            .join(",")
    }
    fn files(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    fn describe(&self) -> String {
        let lines: Vec<String> = self
            .images
            .iter()
            .map(|(r, i)| format!("{r}: {i}"))
            .collect();
        format!(
            "Tencentcloud images({}) were created:\n\n",
            lines.join("\n")
        )
    }
    fn state(&self, key: &str) -> Option<serde_json::Value> {
        match key {
            "generated_data" if !self.generated.is_empty() => {
                Some(serde_json::json!(self.generated))
            }
            "atlas.artifact.metadata" => Some(serde_json::json!(self
                .images
                .iter()
                .map(|(r, i)| (format!("region.{r}"), i.clone()))
                .collect::<BTreeMap<_, _>>())),
            _ => None,
        }
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        destroy_images(&self.images, |region| self.cvm.for_region(region))
            .await
            .map_err(|e| ArtifactError {
                id: self.id(),
                message: e.to_string(),
            })
    }
}
