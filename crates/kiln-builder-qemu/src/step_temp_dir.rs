//! Creates the build's temporary directory (QMP socket, serial and QEMU
//! logs, floppy and CD images, the KVM probe). Stores its path in
//! `QemuState::temp_dir`; cleanup removes it with everything inside.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::QemuState;

/// See the module docs.
pub struct StepTempDir;

#[async_trait]
impl Step<QemuState> for StepTempDir {
    fn name(&self) -> &'static str {
        "StepTempDir"
    }

    async fn run(
        &mut self,
        _: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        // Short path under the system temp dir: unix socket paths are
        // limited to 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("kiln-qemu-")
            .tempdir()
            .map_err(|e| StepError::msg(format!("cannot create a temporary directory: {e}")))?;
        state.temp_dir = Some(dir.keep());
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut QemuState) {
        if let Some(d) = state.temp_dir.take() {
            if let Err(e) = tokio::fs::remove_dir_all(&d).await {
                if e.kind() != std::io::ErrorKind::NotFound {
                    cx.ui
                        .error(&format!("cannot remove `{}`: {e}", d.display()));
                }
            }
        }
    }
}
