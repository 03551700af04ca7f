//! The ucloud-import artifact: the imported image, as kiln-builder-ucloud's
//! [`UcloudArtifact`] (the plugin's post-processor returns the builder's
//! artifact type) with the post-processor's own builder id
//! `packer.post-processor.ucloud-import`. Id `project:region:image-id`,
//! text "UCloud images were created: …"; `destroy` deletes the image.
//! Stores ids and the client; nothing is held open.

use std::path::PathBuf;

use async_trait::async_trait;
use kiln_builder_ucloud::UcloudArtifact;
use kiln_sdk::artifact::{Artifact, ArtifactError};

/// The plugin's builder id for this post-processor's artifacts.
pub const BUILDER_ID: &str = "packer.post-processor.ucloud-import";

/// See the module docs.
#[derive(Clone, Debug)]
pub struct ImportArtifact(pub UcloudArtifact);

#[async_trait]
impl Artifact for ImportArtifact {
    fn builder_id(&self) -> &str {
        BUILDER_ID
    }
    fn id(&self) -> String {
        self.0.id()
    }
    fn files(&self) -> Vec<PathBuf> {
        self.0.files()
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn state(&self, key: &str) -> Option<serde_json::Value> {
        self.0.state(key)
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        self.0.destroy().await
    }
}
