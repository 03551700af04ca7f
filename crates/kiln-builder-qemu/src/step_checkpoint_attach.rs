//! For `-incremental` builds (when StepCheckpointPlan set
//! `QemuState::checkpoints_on`): once the VM answers, attaches a
//! [`QemuSaver`] to the build's checkpoints, so the provision hook can
//! save the VM after each provisioner. The saver shares the QMP connection
//! and knows the disks' paths and the UEFI variable store; it lives as long
//! as the core keeps it, and only talks to the VM while the build runs its
//! provisioners. Holds nothing; nothing to undo.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::checkpoint::Checkpoints;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::checkpoint::QemuSaver;
use crate::config::{Config, SourceKind};
use crate::driver::Driver;
use crate::QemuState;

/// See the module docs.
pub struct StepCheckpointAttach {
    config: Arc<Config>,
    driver: Arc<dyn Driver>,
    checkpoints: Option<Arc<dyn Checkpoints>>,
}

impl StepCheckpointAttach {
    /// The step for `config`; does nothing when `checkpoints` is `None`.
    pub fn new(
        config: Arc<Config>,
        driver: Arc<dyn Driver>,
        checkpoints: Option<Arc<dyn Checkpoints>>,
    ) -> Self {
        StepCheckpointAttach {
            config,
            driver,
            checkpoints,
        }
    }
}

#[async_trait]
impl Step<QemuState> for StepCheckpointAttach {
    fn name(&self) -> &'static str {
        "StepCheckpointAttach"
    }

    async fn run(
        &mut self,
        _: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let Some(checkpoints) = &self.checkpoints else {
            return Ok(StepAction::Continue);
        };
        if !state.checkpoints_on {
            return Ok(StepAction::Continue);
        }
        let qmp = state
            .qmp
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no QMP connection"))?;
        let mut disks = vec![state
            .disk_path
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no disk"))?];
        disks.extend(state.additional_disks.iter().cloned());
        let overlay = self.config.source.kind == (SourceKind::DiskImage { backing_file: true });
        checkpoints.attach(Arc::new(QemuSaver::new(
            qmp,
            self.driver.clone(),
            disks,
            self.config.format,
            overlay,
            state.efi_vars.clone(),
        )));
        Ok(StepAction::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::tests::{config_with, run_step};

    #[tokio::test]
    async fn does_nothing_in_a_plain_build() {
        let c = config_with(serde_json::json!({}), false);
        let state = QemuState {
            checkpoints_on: true,
            ..Default::default()
        };
        // No QMP connection and no disk: it would fail if it looked.
        let (r, _, _) = run_step(
            StepCheckpointAttach::new(c, Arc::new(FakeDriver::default()), None),
            state,
            false,
        )
        .await;
        assert!(r.is_ok(), "{r:?}");
    }
}
