//! The ucloud-uhost artifact (the plugin's `Artifact`): the images made,
//! by `<project>:<region>`. Id `project:region:image-id[,…]` sorted,
//! builder id `ucloud.uhost`, the plugin's "UCloud images were created:"
//! text. `destroy` deletes every image through kiln-cloud's generic
//! [`destroy_images`]; what is gone already is no error. Stores ids and
//! the client; nothing is held open.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use kiln_cloud::steps::image::destroy_images;
use kiln_sdk::artifact::{Artifact, ArtifactError};

use crate::cloud::image::split_key;
use crate::cloud::Uhost;

/// The plugin's builder id.
pub const BUILDER_ID: &str = "ucloud.uhost";

/// The images a build made.
#[derive(Clone, Debug)]
pub struct UcloudArtifact {
    /// Image ids by `<project>:<region>`.
    pub images: BTreeMap<String, String>,
    /// The client (any project and region: each image's is used).
    pub uhost: Uhost,
    /// The build's generated data (no secrets).
    pub generated: BTreeMap<String, String>,
}

#[async_trait]
impl Artifact for UcloudArtifact {
    fn builder_id(&self) -> &str {
        BUILDER_ID
    }
    fn id(&self) -> String {
        self.images
            .iter()
            .map(|(k, i)| format!("{k}:{i}"))
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
            .map(|(k, i)| {
                let (p, r) = split_key(k);
                format!("{p}: {r}: {i}")
            })
            .collect();
        format!("UCloud images were created:\n\n{}", lines.join("\n"))
    }
    fn state(&self, key: &str) -> Option<serde_json::Value> {
        match key {
            "generated_data" if !self.generated.is_empty() => {
                Some(serde_json::json!(self.generated))
            }
            "atlas.artifact.metadata" => Some(serde_json::json!(self.images)),
            _ => None,
        }
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        destroy_images(&self.images, |key| self.uhost.at_key(key))
            .await
            .map_err(|e| ArtifactError {
                id: self.id(),
                message: e.to_string(),
            })
    }
}
