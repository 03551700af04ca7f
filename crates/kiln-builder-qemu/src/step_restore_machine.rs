//! For a build restored from a checkpoint (`QemuState::restore`): StepRun
//! started QEMU with the build's own command line plus `-S -incoming
//! defer`; this step loads the checkpoint's memory and device state into
//! it (QMP `migrate-incoming` from `file:CHECKPOINT/machine.state`, polled
//! through `query-migrate`) and resumes it (`cont`). The guest carries on
//! where it was saved: no boot, no boot command (StepTypeBootCommand then
//! does nothing), and its SSH server answers on the fresh forwarded port
//! (host-side ports are not guest state). Fails at once, with QEMU's log,
//! if QEMU exits while loading. Holds nothing; StepRun's cleanup stops the
//! VM.

use std::time::Instant;

use async_trait::async_trait;
use kiln_sdk::component::BuildError;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::json;

use crate::checkpoint::{file_uri, wait_migration};
use crate::{vm_died, QemuState};

/// See the module docs.
pub struct StepRestoreMachine;

#[async_trait]
impl Step<QemuState> for StepRestoreMachine {
    fn name(&self) -> &'static str {
        "StepRestoreMachine"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let Some(restore) = state.restore.clone() else {
            return Ok(StepAction::Continue);
        };
        let qmp = state
            .qmp
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no QMP connection"))?;
        let mut exited = state
            .vm
            .as_ref()
            .map(|v| v.exited.clone())
            .ok_or_else(|| StepError::msg("internal error: no VM"))?;
        let file = restore.dir.join(&restore.data.state);
        let file = std::fs::canonicalize(&file)
            .map_err(|e| StepError::msg(format!("cannot resolve `{}`: {e}", file.display())))?;
        let uri = file_uri(&file).map_err(StepError::msg)?;
        let started = Instant::now();
        let work = async {
            qmp.execute("migrate-incoming", Some(json!({ "uri": uri })))
                .await
                .map_err(|e| BuildError::msg(format!("cannot load the checkpoint: {e}")))?;
            wait_migration(&qmp, &cx.cancel, false).await?;
            qmp.execute("cont", None)
                .await
                .map_err(|e| BuildError::msg(format!("cannot resume the restored VM: {e}")))?;
            Ok::<(), BuildError>(())
        };
        tokio::select! {
            r = work => match r {
                Ok(()) => {}
                Err(BuildError::Cancelled) => return Err(StepError::Cancelled),
                Err(e) => {
                    let q = crate::tail(state.qemu_log.as_ref(), 10);
                    let mut m = format!("cannot restore the VM from `{}`: {e}", file.display());
                    if !q.is_empty() {
                        m.push_str(&format!("\nqemu said:\n{q}"));
                    }
                    return Err(StepError::msg(m));
                }
            },
            _ = exited.wait_for(|e| e.is_some()) => {
                let exit = state.vm.as_ref().and_then(|v| v.exit()).unwrap_or(crate::driver::VmExit { status: "unknown".into(), success: false });
                return Err(StepError::msg(format!(
                    "the VM stopped while loading the checkpoint: {}",
                    vm_died(state, &exit)
                )));
            }
        }
        cx.ui.say(&format!(
            "Restored the VM from the checkpoint (memory and disks) in {:.1}s; skipping the boot",
            started.elapsed().as_secs_f64()
        ));
        Ok(StepAction::Continue)
    }
}
