//! Waits `boot_wait`, then types the rendered `boot_command` (or each of
//! `boot_steps`, saying its description) into the VM
//! through QMP `input-send-event` (`{{ .HTTPIP }}`, `{{ .HTTPPort }}` and
//! `{{ .Name }}` are known now), one key per `boot_key_interval`, failing
//! at once with the serial console's tail if the VM dies meanwhile. With no
//! boot command and no explicit `boot_wait`, or when the VM was restored
//! from a checkpoint, it does nothing. Holds no resources; releases any
//! key it left pressed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::interpolate;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use serde_json::json;

use crate::bootcommand::{self, Action};
use crate::config::Config;
use crate::qmp::Qmp;
use crate::{vm_died, QemuState};

/// See the module docs.
pub struct StepTypeBootCommand {
    config: Arc<Config>,
}

impl StepTypeBootCommand {
    /// The step for `config`.
    pub fn new(config: Arc<Config>) -> Self {
        StepTypeBootCommand { config }
    }
}

async fn type_actions(qmp: &Qmp, actions: &[Action], interval: Duration) -> Result<(), String> {
    let err = |e: crate::qmp::QmpError| format!("cannot type the boot command: {e}");
    for (i, a) in actions.iter().enumerate() {
        // No pause after the last key: nothing follows it.
        let interval = if i + 1 == actions.len() {
            Duration::ZERO
        } else {
            interval
        };
        match a {
            Action::Wait(d) => tokio::time::sleep(*d).await,
            Action::Down(k) => {
                qmp.key(k, true).await.map_err(err)?;
                tokio::time::sleep(interval).await;
            }
            Action::Up(k) => {
                qmp.key(k, false).await.map_err(err)?;
                tokio::time::sleep(interval).await;
            }
            Action::Tap { key, shift } => {
                if *shift {
                    qmp.key("shift", true).await.map_err(err)?;
                }
                qmp.key(key, true).await.map_err(err)?;
                qmp.key(key, false).await.map_err(err)?;
                if *shift {
                    qmp.key("shift", false).await.map_err(err)?;
                }
                tokio::time::sleep(interval).await;
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Step<QemuState> for StepTypeBootCommand {
    fn name(&self) -> &'static str {
        "StepTypeBootCommand"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        if state.restore.is_some() {
            // The VM was restored, past its boot.
            return Ok(StepAction::Continue);
        }
        let c = &self.config;
        let has_command = !c.boot.steps.is_empty();
        let wait = match (c.boot.wait, has_command) {
            (Some(w), _) => w,
            (None, true) => Duration::from_secs(10),
            (None, false) => return Ok(StepAction::Continue),
        };
        let mut exited = state
            .vm
            .as_ref()
            .map(|v| v.exited.clone())
            .ok_or_else(|| StepError::msg("internal error: no VM"))?;
        let qmp = state
            .qmp
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no QMP connection"))?;
        let ctx = c.interpolation.with_data([
            ("HTTPIP", json!("10.0.2.2")),
            ("HTTPPort", json!(state.http_port.unwrap_or(0))),
            ("Name", json!(c.vm_name)),
        ]);
        let mut steps = Vec::with_capacity(c.boot.steps.len());
        for step in &c.boot.steps {
            let rendered = interpolate::render(&step.command, &ctx)
                .map_err(|e| StepError::msg(format!("cannot render `boot_command`: {e}")))?;
            let actions = bootcommand::parse(&rendered).map_err(StepError::msg)?;
            steps.push((step.description.as_deref(), actions));
        }
        let work = async {
            if !wait.is_zero() {
                cx.ui.say(&format!(
                    "Waiting {} for boot...",
                    kiln_sdk::duration::format_go(wait)
                ));
                tokio::time::sleep(wait).await;
            }
            if has_command {
                cx.ui.say("Typing the boot command over QMP...");
                for (description, actions) in &steps {
                    if let Some(d) = description {
                        cx.ui.message(&format!("Typing boot step: {d}"));
                    }
                    type_actions(&qmp, actions, c.boot.key_interval).await?;
                }
            }
            Ok::<(), String>(())
        };
        tokio::select! {
            r = work => r.map_err(StepError::msg)?,
            _ = exited.wait_for(|e| e.is_some()) => {
                let exit = state.vm.as_ref().and_then(|v| v.exit()).unwrap_or(crate::driver::VmExit { status: "unknown".into(), success: false });
                // Without a communicator, a VM that powers itself off is
                // how the build ends.
                if exit.success && matches!(c.communicator, kiln_ssh::CommunicatorConfig::None) {
                    cx.ui.message("The VM powered off during the boot command");
                    return Ok(StepAction::Continue);
                }
                return Err(StepError::msg(vm_died(state, &exit)));
            }
        }
        Ok(StepAction::Continue)
    }
}
