//! The docker artifacts, with Packer's builder ids and ids:
//!
//! - [`ImageArtifact`]: an image in the engine (Packer's `ImportArtifact`):
//!   the builder's commit (builder id `packer.post-processor.docker-import`,
//!   id = image id) and the docker post-processors' results. Its `destroy`
//!   removes the image (or the tag) it names.
//! - [`ExportArtifact`]: an exported tar file (builder id `packer.docker`,
//!   id `Container`). Its `destroy` deletes the file.
//!
//! They store ids, tags and paths only; nothing is held open.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use bollard::query_parameters::RemoveImageOptions;
use kiln_sdk::artifact::{Artifact, ArtifactError};

use crate::client::{engine_message, is_not_found};

/// Packer's builder id of the docker builder (export artifacts).
pub const BUILDER_ID: &str = "packer.docker";
/// Packer's builder id of committed and imported images.
pub const BUILDER_ID_IMPORT: &str = "packer.post-processor.docker-import";

/// An image in the engine. See the module docs.
#[derive(Debug, Clone)]
pub struct ImageArtifact {
    /// The builder id (see the constants).
    pub builder_id: String,
    /// The image id or reference.
    pub id: String,
    /// `docker_tags` state for docker-push (set by docker-tag).
    pub tags: Vec<String>,
    /// Generated data (`ImageSha256`) for `generated_data` state.
    pub generated: BTreeMap<String, String>,
}

#[async_trait]
impl Artifact for ImageArtifact {
    fn builder_id(&self) -> &str {
        &self.builder_id
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn files(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    fn describe(&self) -> String {
        if self.tags.is_empty() {
            format!("Imported Docker image: {}", self.id)
        } else {
            format!(
                "Imported Docker image: {} with tags {}",
                self.id,
                self.tags.join(" ")
            )
        }
    }
    fn state(&self, key: &str) -> Option<serde_json::Value> {
        match key {
            "docker_tags" => Some(serde_json::json!(self.tags)),
            "generated_data" if !self.generated.is_empty() => {
                Some(serde_json::json!(self.generated))
            }
            _ => None,
        }
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        let fail = |message: String| ArtifactError {
            id: self.id.clone(),
            message,
        };
        let docker = crate::client::connect()
            .await
            .map_err(|e| fail(e.to_string()))?;
        match docker
            .remove_image(&self.id, None::<RemoveImageOptions>, None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(fail(format!(
                "cannot remove image `{}`: {}",
                self.id,
                engine_message(&e)
            ))),
        }
    }
}

/// An exported container file system. See the module docs.
#[derive(Debug, Clone)]
pub struct ExportArtifact {
    /// `export_path`.
    pub path: PathBuf,
}

#[async_trait]
impl Artifact for ExportArtifact {
    fn builder_id(&self) -> &str {
        BUILDER_ID
    }
    fn id(&self) -> String {
        "Container".into()
    }
    fn files(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }
    fn describe(&self) -> String {
        format!("Exported Docker file: {}", self.path.display())
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        match tokio::fs::remove_file(&self.path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ArtifactError {
                id: self.id(),
                message: format!("cannot remove `{}`: {e}", self.path.display()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_descriptions_follow_packer() {
        let a = ImageArtifact {
            builder_id: BUILDER_ID_IMPORT.into(),
            id: "sha256:abc".into(),
            tags: vec!["r:1".into()],
            generated: BTreeMap::new(),
        };
        assert_eq!(
            a.describe(),
            "Imported Docker image: sha256:abc with tags r:1"
        );
        assert_eq!(a.state("docker_tags"), Some(serde_json::json!(["r:1"])));
        assert!(a.files().is_empty());
        let e = ExportArtifact {
            path: "out.tar".into(),
        };
        assert_eq!(e.builder_id(), "packer.docker");
        assert_eq!(e.id(), "Container");
        assert_eq!(e.describe(), "Exported Docker file: out.tar");
    }

    #[tokio::test]
    async fn destroying_an_export_twice_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.tar");
        std::fs::write(&p, b"x").unwrap();
        let e = ExportArtifact { path: p.clone() };
        e.destroy().await.unwrap();
        e.destroy().await.unwrap();
        assert!(!p.exists());
    }
}
