//! For [`crate::QemuBuilder`]'s `boot` (the `test` post-processor): makes a
//! qcow2 overlay in the temporary directory whose backing file is the
//! artifact's disk, so the booted VM writes only to the overlay and the
//! artifact is never modified. The `disk_additional_size` disks get an
//! overlay each. Stores them in `QemuState::disk_path` and
//! `additional_disks`; cleanup deletes them (StepTempDir would too).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::driver::Driver;
use crate::step_create_disk::image_format;
use crate::QemuState;

/// See the module docs.
pub struct StepBootOverlay {
    disks: Vec<PathBuf>,
    driver: Arc<dyn Driver>,
    made: Vec<PathBuf>,
}

impl StepBootOverlay {
    /// Overlays for `disks` (the main disk first).
    pub fn new(disks: Vec<PathBuf>, driver: Arc<dyn Driver>) -> Self {
        StepBootOverlay {
            disks,
            driver,
            made: Vec::new(),
        }
    }
}

#[async_trait]
impl Step<QemuState> for StepBootOverlay {
    fn name(&self) -> &'static str {
        "StepBootOverlay"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let tmp = state
            .temp_dir
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no temporary directory"))?;
        cx.ui
            .say("Creating a temporary overlay of the disk image (the image is not modified)...");
        let mut overlays = Vec::new();
        for (i, disk) in self.disks.iter().enumerate() {
            let backing = std::path::absolute(disk)
                .map_err(|e| StepError::msg(format!("cannot resolve `{}`: {e}", disk.display())))?;
            let shown = backing.display().to_string();
            if !backing.is_file() {
                return Err(StepError::msg(format!(
                    "the artifact's disk `{shown}` does not exist"
                )));
            }
            let (format, _) = image_format(self.driver.as_ref(), &shown).await?;
            let overlay = tmp.join(format!("boot-overlay-{i}.qcow2"));
            self.made.push(overlay.clone());
            let args: Vec<String> = vec![
                "create".into(),
                "-f".into(),
                "qcow2".into(),
                "-F".into(),
                format,
                "-b".into(),
                shown.clone(),
                overlay.display().to_string(),
            ];
            self.driver.run("qemu-img", &args).await.map_err(|e| {
                StepError::msg(format!("cannot create an overlay of `{shown}`: {e}"))
            })?;
            overlays.push(overlay);
        }
        let mut it = overlays.into_iter();
        state.disk_path = it.next();
        state.additional_disks = it.collect();
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, _state: &mut QemuState) {
        for o in self.made.drain(..) {
            if let Err(e) = tokio::fs::remove_file(&o).await {
                if e.kind() != std::io::ErrorKind::NotFound {
                    cx.ui
                        .error(&format!("cannot remove `{}`: {e}", o.display()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::run_step;

    /// A real `qemu-img`: the overlay's backing file is the disk, and the
    /// disk's bytes do not change when the overlay is written.
    #[tokio::test]
    async fn overlays_back_onto_the_disk_and_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let disk = tmp.path().join("vm.raw");
        std::fs::write(&disk, vec![7u8; 1 << 20]).unwrap();
        let work = tmp.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let state = QemuState {
            temp_dir: Some(work.clone()),
            ..Default::default()
        };
        let step = StepBootOverlay::new(vec![disk.clone()], Arc::new(crate::driver::QemuDriver));
        let (r, state, lines) = run_step(step, state, false).await;
        r.unwrap();
        let overlay = state.disk_path.clone().unwrap();
        assert_eq!(overlay, work.join("boot-overlay-0.qcow2"));
        assert!(
            lines.iter().any(|l| l.contains("not modified")),
            "{lines:?}"
        );
        let info = std::process::Command::new("qemu-img")
            .args(["info", "--output=json"])
            .arg(&overlay)
            .output()
            .unwrap();
        let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        assert_eq!(info["format"], "qcow2");
        assert_eq!(info["backing-filename"], disk.display().to_string());
        assert_eq!(info["backing-filename-format"], "raw");
        let mut step = StepBootOverlay::new(vec![], Arc::new(crate::driver::QemuDriver));
        step.made.push(overlay.clone());
        let (_, _, _) = run_step(step, QemuState::default(), true).await;
        assert!(!overlay.exists());

        let step = StepBootOverlay::new(
            vec![tmp.path().join("gone.qcow2")],
            Arc::new(crate::driver::QemuDriver),
        );
        let state = QemuState {
            temp_dir: Some(work.clone()),
            ..Default::default()
        };
        let (r, _, _) = run_step(step, state, false).await;
        assert!(r.unwrap_err().to_string().contains("does not exist"));
    }
}
