//! What the import post-processors (alicloud-import, ucloud-import) share,
//! written once: why a run failed ([`Failed`], cancelled or not, which
//! decides the cleanup's wording), running a call unless the build is
//! cancelled ([`cancellable`]), an upload with its progress bar
//! ([`with_progress`]), the artifact files listed for the "no disk image"
//! error ([`listed_files`]), deleting the half-imported image of a failed
//! run ([`delete_imported`]) and the artifact: the builder's artifact type
//! under the post-processor's own builder id ([`ImportArtifact`]). Holds
//! nothing; each post-processor's cleanup deletes what its run created.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::artifact::{Artifact, ArtifactError};
use kiln_sdk::component::BuildError;
use kiln_sdk::Ui;
use tokio_util::sync::CancellationToken;

use crate::steps::image::{destroy_images, ImageApi};

/// Why an import run failed, for its cleanup: cancelled (Ctrl-C) or an
/// error with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    /// The build was cancelled.
    Cancelled,
    /// It failed, with this message.
    Error(String),
}

impl From<String> for Failed {
    fn from(e: String) -> Self {
        Failed::Error(e)
    }
}

impl From<Failed> for BuildError {
    fn from(f: Failed) -> Self {
        match f {
            Failed::Cancelled => BuildError::Cancelled,
            Failed::Error(e) => BuildError::msg(e),
        }
    }
}

/// Runs `fut` unless `cancel` fires first.
pub async fn cancellable<T>(
    cancel: &CancellationToken,
    fut: impl Future<Output = T>,
) -> Result<T, Failed> {
    tokio::select! {
        _ = cancel.cancelled() => Err(Failed::Cancelled),
        r = fut => Ok(r),
    }
}

/// Runs the upload `fut`, reporting `progress` of `total` bytes through
/// the UI twice a second, unless `cancel` fires first.
pub async fn with_progress<T>(
    ui: &dyn Ui,
    cancel: &CancellationToken,
    label: &str,
    total: u64,
    progress: &AtomicU64,
    fut: impl Future<Output = T>,
) -> Result<T, Failed> {
    tokio::pin!(fut);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Err(Failed::Cancelled),
            r = &mut fut => {
                ui.progress(label, total, total);
                return Ok(r);
            }
            _ = tick.tick() => ui.progress(label, progress.load(Ordering::Relaxed).min(total), total),
        }
    }
}

/// The artifact's `files` for an error saying none is a disk image: "it
/// has no files" or "its files are `a`, `b`".
pub fn listed_files(files: &[PathBuf]) -> String {
    if files.is_empty() {
        return "it has no files".to_string();
    }
    format!(
        "its files are `{}`",
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join("`, `")
    )
}

/// Deletes `image`, which a failed or cancelled run imported into
/// `region` (the key `api` takes), saying so; what cannot be deleted is
/// said, with its id. Never fails: it runs during the cleanup.
pub async fn delete_imported<A, F>(ui: &dyn Ui, region: String, image: &str, api: F)
where
    A: ImageApi,
    F: Fn(&str) -> A,
{
    ui.say(&format!(
        "Deleting the imported image {image} because of cancellation or error..."
    ));
    let images = BTreeMap::from([(region, image.to_string())]);
    if let Err(e) = destroy_images(&images, api).await {
        ui.error(&format!(
            "cannot delete the imported image `{image}` (delete it yourself): {e}"
        ));
    }
}

/// An imported image: the builder's artifact (`A`, which the import
/// post-processors return as Packer's do) under the post-processor's own
/// builder id; everything else (id, text, state, `destroy`) is `A`'s.
#[derive(Clone, Debug)]
pub struct ImportArtifact<A> {
    builder_id: &'static str,
    image: A,
}

impl<A> ImportArtifact<A> {
    /// `image` under `builder_id` (`packer.post-processor.alicloud-import`).
    pub fn new(builder_id: &'static str, image: A) -> Self {
        ImportArtifact { builder_id, image }
    }

    /// The builder's artifact.
    pub fn image(&self) -> &A {
        &self.image
    }
}

#[async_trait]
impl<A: Artifact> Artifact for ImportArtifact<A> {
    fn builder_id(&self) -> &str {
        self.builder_id
    }
    fn id(&self) -> String {
        self.image.id()
    }
    fn files(&self) -> Vec<PathBuf> {
        self.image.files()
    }
    fn describe(&self) -> String {
        self.image.describe()
    }
    fn state(&self, key: &str) -> Option<serde_json::Value> {
        self.image.state(key)
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        self.image.destroy().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_artifact_is_the_builders_under_the_imports_id() {
        let image = kiln_sdk::artifact::FileArtifact {
            builder_id: "builder".into(),
            id: "r:img-1".into(),
            files: Vec::new(),
            description: "images were created".into(),
        };
        let a = ImportArtifact::new("packer.post-processor.x-import", image);
        assert_eq!(a.builder_id(), "packer.post-processor.x-import");
        assert_eq!(a.id(), "r:img-1");
        assert_eq!(a.describe(), "images were created");
        assert_eq!(a.image().builder_id, "builder");
        assert!(a.destroy().await.is_ok());
    }

    #[tokio::test]
    async fn a_cancelled_build_ends_the_wait_and_the_upload() {
        let cancel = CancellationToken::new();
        assert_eq!(cancellable(&cancel, async { 1 }).await, Ok(1));
        cancel.cancel();
        let never = std::future::pending::<()>();
        assert_eq!(cancellable(&cancel, never).await, Err(Failed::Cancelled));
        let ui = kiln_sdk::ui::RecordingUi::default();
        let progress = AtomicU64::new(0);
        let r = with_progress(
            &ui,
            &cancel,
            "up",
            10,
            &progress,
            std::future::pending::<()>(),
        );
        assert_eq!(r.await, Err(Failed::Cancelled));
    }

    #[test]
    fn files_are_listed_or_said_to_be_none() {
        assert_eq!(listed_files(&[]), "it has no files");
        let files = [PathBuf::from("a.txt"), PathBuf::from("b.img")];
        assert_eq!(listed_files(&files), "its files are `a.txt`, `b.img`");
    }
}
