//! The null builder's artifact: nothing was exported, so `destroy` has
//! nothing to undo.

use std::path::PathBuf;

use async_trait::async_trait;
use kiln_sdk::artifact::{Artifact, ArtifactError};

/// See the module docs.
#[derive(Debug, Clone, Copy)]
pub struct NullArtifact;

#[async_trait]
impl Artifact for NullArtifact {
    fn builder_id(&self) -> &str {
        crate::BUILDER_ID
    }
    fn id(&self) -> String {
        "Null".into()
    }
    fn files(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    fn describe(&self) -> String {
        "Did not export anything. This is the null builder".into()
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        Ok(())
    }
}
