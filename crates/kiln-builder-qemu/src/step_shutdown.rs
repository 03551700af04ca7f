//! Stops the VM at the end of a successful build, and sees it stop at once
//! (the QEMU process's exit, not polling):
//! - `communicator: none`: waits up to `shutdown_timeout` for the guest to
//!   power itself off ("Failed to shutdown" otherwise, as Packer);
//! - `shutdown_command`: runs it over the communicator, then waits up to
//!   `shutdown_timeout`;
//! - neither: presses the ACPI power button through QMP and waits up to
//!   `shutdown_timeout`, then stops QEMU (Packer kills QEMU straight away,
//!   which can lose the guest's unwritten data).
//!
//! Drops the communicator once the VM is down; StepRun's cleanup still
//! kills a VM that would not stop.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::communicator::{CommandOutput, RemoteCommand};
use kiln_sdk::duration::format_go;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use kiln_ssh::CommunicatorConfig;

use crate::config::Config;
use crate::QemuState;

fn serial_tail(state: &QemuState) -> String {
    let t = crate::tail(state.serial_log.as_ref(), 20);
    if t.is_empty() {
        t
    } else {
        format!("\nlast lines of the serial console:\n{t}")
    }
}

/// See the module docs.
pub struct StepShutdown {
    config: Arc<Config>,
}

impl StepShutdown {
    /// The step for `config`.
    pub fn new(config: Arc<Config>) -> Self {
        StepShutdown { config }
    }
}

#[async_trait]
impl Step<QemuState> for StepShutdown {
    fn name(&self) -> &'static str {
        "StepShutdown"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        let timeout = c.shutdown_timeout;
        let Some(vm) = state.vm.as_ref() else {
            return Err(StepError::msg("internal error: no VM"));
        };
        let exited = vm.exited.clone();
        let mut exited2 = vm.exited.clone();
        let wait = |d: Duration| {
            let mut rx = exited.clone();
            async move {
                tokio::time::timeout(d, rx.wait_for(|e| e.is_some()))
                    .await
                    .is_ok()
            }
        };
        if matches!(c.communicator, CommunicatorConfig::None) {
            cx.ui.say("Waiting for shutdown...");
            if !wait(timeout).await {
                return Err(StepError::msg(format!(
                    "failed to shutdown: the VM did not power off within `shutdown_timeout` ({}){}",
                    format_go(timeout),
                    serial_tail(state)
                )));
            }
        } else if let Some(cmd) = &c.shutdown_command {
            cx.ui.say("Gracefully halting virtual machine...");
            let comm = state
                .communicator
                .clone()
                .ok_or_else(|| StepError::msg("internal error: no communicator"))?;
            let ui = cx.ui;
            let out = |l: &str| ui.message(l);
            let err = |l: &str| ui.error(l);
            let remote = RemoteCommand {
                command: cmd.clone(),
            };
            let run = comm.start(
                &remote,
                CommandOutput {
                    stdout: &out,
                    stderr: &err,
                },
            );
            // The command may never return: the machine goes away under it.
            tokio::select! {
                r = run => {
                    if let Err(e) = r {
                        return Err(StepError::msg(format!("failed to send shutdown command `{cmd}`: {e}")));
                    }
                }
                _ = exited2.wait_for(|e| e.is_some()) => {}
            }
            if !wait(timeout).await {
                return Err(StepError::msg(format!(
                    "timeout while waiting for machine to shutdown (`shutdown_timeout` is {}){}",
                    format_go(timeout),
                    serial_tail(state)
                )));
            }
        } else {
            cx.ui.say("Halting the virtual machine...");
            let qmp = state.qmp.clone();
            // Close SSH first: the guest's sshd is going away.
            state.communicator = None;
            let mut asked = false;
            if let Some(q) = &qmp {
                asked = q.system_powerdown().await.is_ok();
            }
            if !(asked && wait(timeout).await) {
                cx.ui
                    .message("The VM did not power off by itself: stopping it");
                if let Some(q) = &qmp {
                    let _ = q.quit().await;
                }
                if !wait(Duration::from_secs(5)).await {
                    if let Some(vm) = state.vm.as_ref() {
                        vm.kill();
                    }
                    let _ = wait(Duration::from_secs(10)).await;
                }
            }
        }
        state.communicator = None;
        state.shut_down = true;
        Ok(StepAction::Continue)
    }
}
