//! Runs the provisioners (kiln-sdk's `StepProvision`, which also runs the
//! `error-cleanup-provisioner` on failure) while watching the VM: if QEMU
//! dies mid-provisioning the step fails at once with the serial console's
//! tail instead of waiting on a dead connection. Undoes nothing itself.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::component::Hook;
use kiln_sdk::step::{CleanupKind, OnError, Step, StepAction, StepContext, StepError};
use kiln_sdk::steps;

use crate::{vm_died, QemuState};

/// See the module docs.
pub struct StepProvision {
    inner: steps::StepProvision,
}

impl StepProvision {
    /// The step firing `hook`.
    pub fn new(hook: Arc<dyn Hook>, on_error: OnError) -> Self {
        StepProvision {
            inner: steps::StepProvision::new(hook, on_error),
        }
    }
}

#[async_trait]
impl Step<QemuState> for StepProvision {
    fn name(&self) -> &'static str {
        "StepProvision"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let Some(mut exited) = state.vm.as_ref().map(|v| v.exited.clone()) else {
            return Step::<QemuState>::run(&mut self.inner, cx, state).await;
        };
        tokio::select! {
            r = Step::<QemuState>::run(&mut self.inner, cx, state) => return r,
            _ = exited.wait_for(|e| e.is_some()) => {}
        }
        let exit = state
            .vm
            .as_ref()
            .and_then(|v| v.exit())
            .unwrap_or(crate::driver::VmExit {
                status: "unknown".into(),
                success: false,
            });
        Err(StepError::msg(format!(
            "the VM stopped during provisioning: {}",
            vm_died(state, &exit)
        )))
    }

    fn cleanup_kind(&self) -> CleanupKind {
        CleanupKind::ErrorCleanupProvisioner
    }
}
