//! Creates the host directory Packer shares with the container at
//! `container_dir` (`/packer-files`), for scripts that exchange files with
//! the host. Stores it in `DockerState::temp_dir`; its cleanup deletes the
//! directory and everything the build left in it.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::DockerState;

/// See the module docs.
pub struct StepTempDir;

#[async_trait]
impl Step<DockerState> for StepTempDir {
    fn name(&self) -> &'static str {
        "StepTempDir"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut DockerState,
    ) -> Result<StepAction, StepError> {
        cx.ui
            .say("Creating a temporary directory for sharing data...");
        let dir = tempfile::Builder::new()
            .prefix("kiln-docker-")
            .tempdir()
            .map_err(|e| {
                StepError::msg(format!(
                    "cannot create a temporary directory in `{}`: {e}",
                    std::env::temp_dir().display()
                ))
            })?;
        state.temp_dir = Some(dir);
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut DockerState) {
        if let Some(dir) = state.temp_dir.take() {
            let shown = dir.path().display().to_string();
            if let Err(e) = dir.close() {
                cx.ui.error(&format!(
                    "cannot remove the temporary directory `{shown}`: {e}"
                ));
            }
        }
    }
}
