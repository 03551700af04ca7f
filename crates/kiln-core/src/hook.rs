//! The provision hook a builder fires once its communicator is up. It runs
//! the build's provisioners in order with Packer's wrappers: `pause_before`,
//! `timeout` (the provisioner is cancelled and allowed to clean up),
//! `max_retries`, and the `-debug` pause. `CleanupProvision` runs the
//! `error-cleanup-provisioner`.
//!
//! In an `-incremental` build it also skips the provisioners the restored
//! checkpoint stands for (those whose effects are outside the machine run
//! again), and saves a checkpoint after each provisioner that follows.

use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::checkpoint::Effects;
use kiln_sdk::communicator::Communicator;
use kiln_sdk::component::{BuildError, GeneratedData, HookEvent, ProvisionContext};
use kiln_sdk::duration::format_go;
use kiln_sdk::interpolate::{Context, Generated};
use kiln_sdk::ui::Ui;
use kiln_sdk::Hook;
use tokio_util::sync::CancellationToken;

use crate::checkpoints::BuildCheckpoints;
use crate::prepare::PreparedProvisioner;

/// See the module docs.
pub struct ProvisionHook {
    /// The build's provisioners.
    pub provisioners: Vec<PreparedProvisioner>,
    /// The `error-cleanup-provisioner`.
    pub error_cleanup_provisioner: Option<PreparedProvisioner>,
    /// The build's interpolation context.
    pub interpolation: Context,
    /// `-debug`.
    pub debug: bool,
    /// Delay between retries.
    pub retry_delay: Duration,
    /// The build's record.
    pub record: std::sync::Arc<kiln_sdk::BuildRecord>,
    /// The build's checkpoints (`-incremental`).
    pub checkpoints: Option<std::sync::Arc<BuildCheckpoints>>,
}

impl ProvisionHook {
    async fn run_one(
        &self,
        p: &PreparedProvisioner,
        ui: &dyn Ui,
        communicator: &dyn Communicator,
        interpolation: &Context,
        generated: &GeneratedData,
        cancel: &CancellationToken,
    ) -> Result<(), BuildError> {
        if let Some(d) = p.pause_before {
            ui.say(&format!(
                "Pausing {} before the next provisioner...",
                format_go(d)
            ));
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = cancel.cancelled() => return Err(BuildError::Cancelled),
            }
        }
        if self.debug {
            if let Err(e) = ui
                .ask("Pausing before the next provisioner . Press enter to continue.")
                .await
            {
                ui.error(&format!("{e}; not pausing"));
            }
        }
        let attempts = p.max_retries + 1;
        for attempt in 1..=attempts {
            if cancel.is_cancelled() {
                return Err(BuildError::Cancelled);
            }
            let child = cancel.child_token();
            let fut = p.provisioner.provision(
                ProvisionContext {
                    ui,
                    cancel: child.clone(),
                    interpolation,
                    generated,
                    debug: self.debug,
                    record: &self.record,
                },
                communicator,
            );
            tokio::pin!(fut);
            let result = match p.timeout {
                None => fut.await,
                Some(t) => {
                    tokio::select! {
                        r = &mut fut => r,
                        _ = tokio::time::sleep(t) => {
                            child.cancel();
                            // Let the provisioner stop and clean up.
                            let _ = fut.await;
                            Err(BuildError::msg(format!(
                                "provisioner `{}` timed out after {}",
                                p.provisioner_type,
                                format_go(t)
                            )))
                        }
                    }
                }
            };
            match result {
                Ok(()) => return Ok(()),
                Err(BuildError::Cancelled) => return Err(BuildError::Cancelled),
                Err(e) if attempt < attempts => {
                    ui.error(&format!(
                    "provisioner `{}` failed (attempt {attempt} of {attempts}): {e}; retrying in {}",
                    p.provisioner_type,
                    format_go(self.retry_delay)
                ));
                    tokio::select! {
                        _ = tokio::time::sleep(self.retry_delay) => {}
                        _ = cancel.cancelled() => return Err(BuildError::Cancelled),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Hook for ProvisionHook {
    async fn run(
        &self,
        event: HookEvent,
        ui: &dyn Ui,
        communicator: &dyn Communicator,
        generated: &GeneratedData,
        cancel: &CancellationToken,
    ) -> Result<(), BuildError> {
        let mut interpolation = self.interpolation.clone();
        interpolation.generated = Generated::Known(generated.clone());
        let list: Vec<&PreparedProvisioner> = match event {
            HookEvent::Provision => self.provisioners.iter().collect(),
            HookEvent::CleanupProvision => self.error_cleanup_provisioner.iter().collect(),
        };
        let count = list.len();
        let checkpoints = match event {
            HookEvent::Provision => self.checkpoints.as_deref(),
            HookEvent::CleanupProvision => None,
        };
        let restored = match checkpoints {
            Some(c) if !c.planned() => {
                ui.error(
                    "Warning: this builder does not make checkpoints; -incremental runs every provisioner",
                );
                0
            }
            Some(c) => c.restored(),
            None => 0,
        };
        for (i, p) in list.into_iter().enumerate() {
            if i < restored {
                match checkpoints.map(|c| c.effects(i)) {
                    Some(Effects::Outside) => ui.say(&format!(
                        "Provisioner {} of {count} ({}) runs again: its effects are outside the machine",
                        i + 1,
                        p.provisioner_type
                    )),
                    _ => continue,
                }
            }
            // The live view shows which provisioner runs (`shell 2/3`).
            ui.activity(Some(&format!("{} {}/{count}", p.provisioner_type, i + 1)));
            let result = self
                .run_one(p, ui, communicator, &interpolation, generated, cancel)
                .await;
            ui.activity(None);
            result?;
            if let Some(c) = checkpoints {
                if i >= restored {
                    c.save_after(i, ui, cancel).await?;
                }
            }
        }
        Ok(())
    }
}
