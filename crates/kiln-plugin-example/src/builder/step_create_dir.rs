//! Creates the output directory and the communicator into it. Refuses an
//! existing directory unless `-force`. Cleanup removes the directory when
//! the build failed or was cancelled.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use super::DirState;
use crate::communicator::LocalCommunicator;

/// See the module docs.
pub struct StepCreateDir {
    dir: PathBuf,
    force: bool,
}

impl StepCreateDir {
    /// Creates `dir`.
    pub fn new(dir: &Path, force: bool) -> Self {
        StepCreateDir {
            dir: dir.to_path_buf(),
            force,
        }
    }
}

#[async_trait]
impl Step<DirState> for StepCreateDir {
    fn name(&self) -> &'static str {
        "StepCreateDir"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut DirState,
    ) -> Result<StepAction, StepError> {
        if self.dir.exists() {
            if !self.force {
                return Err(StepError::msg(format!(
                    "output directory `{}` already exists; remove it or use `-force`",
                    self.dir.display()
                )));
            }
            let _ = tokio::fs::remove_dir_all(&self.dir).await;
        }
        cx.ui
            .say(&format!("Creating directory {}...", self.dir.display()));
        state.created = Some(self.dir.clone());
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| StepError::msg(format!("cannot create `{}`: {e}", self.dir.display())))?;
        let root = std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone());
        state.communicator = Some(Arc::new(LocalCommunicator { root }));
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut DirState) {
        if !cx.failed {
            return;
        }
        if let Some(dir) = state.created.take() {
            cx.ui
                .say(&format!("Deleting directory {}...", dir.display()));
            if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
                if e.kind() != std::io::ErrorKind::NotFound {
                    cx.ui
                        .error(&format!("cannot delete `{}`: {e}", dir.display()));
                }
            }
        }
    }
}
