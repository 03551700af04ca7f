//! Picks a free VNC port (in `vnc_port_min`..=`vnc_port_max`, on
//! `vnc_bind_address`) so a person can watch the VM, holding it until QEMU
//! starts. Stores it in `QemuState::vnc_port`; skipped with `disable_vnc`.
//! Nothing to undo (StepRun drops the listener).

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::step_forward_port::pick_port;
use crate::QemuState;

/// See the module docs.
pub struct StepConfigureVnc {
    config: Arc<Config>,
}

impl StepConfigureVnc {
    /// The step for `config`.
    pub fn new(config: Arc<Config>) -> Self {
        StepConfigureVnc { config }
    }
}

#[async_trait]
impl Step<QemuState> for StepConfigureVnc {
    fn name(&self) -> &'static str {
        "StepConfigureVNC"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let Some(vnc) = &self.config.vnc else {
            return Ok(StepAction::Continue);
        };
        cx.ui.say(&format!(
            "Looking for available port between {} and {} on {}",
            vnc.ports.start(),
            vnc.ports.end(),
            vnc.bind_address
        ));
        let (port, hold) = pick_port(&vnc.bind_address, &vnc.ports).ok_or_else(|| {
            StepError::msg(format!(
                "no free VNC port between {} and {} on `{}`",
                vnc.ports.start(),
                vnc.ports.end(),
                vnc.bind_address
            ))
        })?;
        state.vnc_port = Some(port);
        state.port_holds.push(hold);
        Ok(StepAction::Continue)
    }
}
