//! Makes the floppy from `floppy_files` (paths and globs) and
//! `floppy_dirs`, plus `floppy_content` (path → text, which wins over a
//! file of the same path): a 1.44 MB FAT12 image made with mkfs.vfat and filled with
//! mtools' mcopy, labelled `floppy_label`. Writes it in the temporary
//! directory (removed by StepTempDir) and records it in
//! `QemuState::floppy_path`. Nothing else to undo.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::driver::Driver;
use crate::step_create_cd::{expand, stage};
use crate::QemuState;

/// See the module docs.
pub struct StepCreateFloppy {
    config: Arc<Config>,
    driver: Arc<dyn Driver>,
}

impl StepCreateFloppy {
    /// The step for `config`.
    pub fn new(config: Arc<Config>, driver: Arc<dyn Driver>) -> Self {
        StepCreateFloppy { config, driver }
    }
}

#[async_trait]
impl Step<QemuState> for StepCreateFloppy {
    fn name(&self) -> &'static str {
        "StepCreateFloppy"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let Some(fl) = &self.config.floppy else {
            return Ok(StepAction::Continue);
        };
        let tmp = state
            .temp_dir
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no temporary directory"))?;
        cx.ui.say("Creating floppy disk...");
        let dir = tmp.join("floppy");
        std::fs::create_dir_all(&dir)
            .map_err(|e| StepError::msg(format!("cannot create `{}`: {e}", dir.display())))?;
        let mut patterns = fl.files.clone();
        patterns.extend(fl.dirs.iter().cloned());
        let files = expand(&patterns).map_err(StepError::msg)?;
        stage(&dir, &files, &fl.content).map_err(StepError::msg)?;
        let img = tmp.join("floppy.img");
        state.floppy_path = Some(img.clone());
        let shown = img.display().to_string();
        self.driver
            .run(
                "mkfs.vfat",
                &[
                    "-C".into(),
                    "-n".into(),
                    fl.label.clone(),
                    shown.clone(),
                    "1440".into(),
                ],
            )
            .await
            .map_err(|e| StepError::msg(format!("cannot create the floppy: {e}")))?;
        let mut entries: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| StepError::msg(format!("cannot read `{}`: {e}", dir.display())))?
            .flatten()
            .map(|e| e.path().display().to_string())
            .collect();
        entries.sort();
        if !entries.is_empty() {
            let mut args = vec!["-s".to_string(), "-i".into(), shown];
            args.extend(entries);
            args.push("::/".into());
            self.driver
                .run("mcopy", &args)
                .await
                .map_err(|e| StepError::msg(format!("cannot copy files to the floppy: {e}")))?;
        }
        Ok(StepAction::Continue)
    }
}
