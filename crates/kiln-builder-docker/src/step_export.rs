//! Exports the container's file system to `export_path` as a tar stream,
//! written chunk by chunk (never whole in memory). Records the path in
//! `DockerState::export_file` before creating it; its cleanup deletes the
//! (possibly partial) file when the build failed or was cancelled.

use std::path::PathBuf;

use async_trait::async_trait;
use futures_util::StreamExt;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use tokio::io::AsyncWriteExt;

use crate::client::engine_message;
use crate::DockerState;

/// See the module docs.
pub struct StepExport {
    path: PathBuf,
}

impl StepExport {
    /// An export step writing `path`.
    pub fn new(path: PathBuf) -> Self {
        StepExport { path }
    }
}

#[async_trait]
impl Step<DockerState> for StepExport {
    fn name(&self) -> &'static str {
        "StepExport"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut DockerState,
    ) -> Result<StepAction, StepError> {
        let Some(id) = state.container.clone() else {
            return Err(StepError::msg("there is no container to export"));
        };
        let shown = self.path.display().to_string();
        cx.ui.say("Exporting the container");
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                StepError::msg(format!(
                    "cannot create directory `{}`: {e}",
                    parent.display()
                ))
            })?;
        }
        state.export_file = Some(self.path.clone());
        let mut file = tokio::fs::File::create(&self.path)
            .await
            .map_err(|e| StepError::msg(format!("cannot create `{shown}`: {e}")))?;
        let mut stream = state.docker.export_container(&id);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                StepError::msg(format!(
                    "cannot export container `{id}`: {}",
                    engine_message(&e)
                ))
            })?;
            file.write_all(&chunk)
                .await
                .map_err(|e| StepError::msg(format!("cannot write `{shown}`: {e}")))?;
        }
        file.flush()
            .await
            .map_err(|e| StepError::msg(format!("cannot write `{shown}`: {e}")))?;
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut DockerState) {
        let Some(path) = state.export_file.take() else {
            return;
        };
        if !cx.failed {
            return;
        }
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => cx
                .ui
                .error(&format!("cannot remove `{}`: {e}", path.display())),
        }
    }
}
