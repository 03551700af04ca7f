//! The artifact contract: what a builder or post-processor produced.
//! `destroy` undoes it (deletes files, deregisters images) and is called when
//! a post-processor chain discards an intermediate artifact.

use std::path::PathBuf;

use async_trait::async_trait;

/// A build result. Mirrors Packer's `Artifact` interface.
#[async_trait]
pub trait Artifact: Send + Sync + std::fmt::Debug {
    /// The unique id of the builder or post-processor type that made it
    /// (Packer's `BuilderId`, e.g. `fnoeding.null`).
    fn builder_id(&self) -> &str;
    /// The artifact id (`Null`, `File`, `us-east-1:ami-123`).
    fn id(&self) -> String;
    /// Local files that make up the artifact.
    fn files(&self) -> Vec<PathBuf>;
    /// A human description, shown in the closing summary.
    fn describe(&self) -> String;
    /// Extra state for post-processors (`state(key)` in Packer).
    fn state(&self, _key: &str) -> Option<serde_json::Value> {
        None
    }
    /// Deletes what the artifact holds. Must be idempotent.
    async fn destroy(&self) -> Result<(), ArtifactError>;
}

/// Why an artifact could not be destroyed.
#[derive(Debug, thiserror::Error)]
#[error("failed to destroy artifact `{id}`: {message}")]
pub struct ArtifactError {
    /// The artifact's id.
    pub id: String,
    /// What went wrong.
    pub message: String,
}

/// An artifact made of local files (file builder, compress, checksum…).
#[derive(Debug, Clone)]
pub struct FileArtifact {
    /// See [`Artifact::builder_id`].
    pub builder_id: String,
    /// See [`Artifact::id`].
    pub id: String,
    /// The files.
    pub files: Vec<PathBuf>,
    /// See [`Artifact::describe`].
    pub description: String,
}

#[async_trait]
impl Artifact for FileArtifact {
    fn builder_id(&self) -> &str {
        &self.builder_id
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn files(&self) -> Vec<PathBuf> {
        self.files.clone()
    }
    fn describe(&self) -> String {
        self.description.clone()
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        for f in &self.files {
            match tokio::fs::remove_file(f).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(ArtifactError {
                        id: self.id.clone(),
                        message: format!("cannot remove `{}`: {e}", f.display()),
                    })
                }
            }
        }
        Ok(())
    }
}
