//! Prepares `output_directory`: refuses one that exists and is not empty
//! unless `-force` (which empties it), then creates it. Records it in
//! `QemuState::output_dir`; after a failure or Ctrl-C, cleanup removes it
//! (the runner skips cleanup under `-on-error=abort`, leaving it).

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::QemuState;

/// See the module docs.
pub struct StepPrepareOutputDir {
    config: Arc<Config>,
}

impl StepPrepareOutputDir {
    /// The step for `config`.
    pub fn new(config: Arc<Config>) -> Self {
        StepPrepareOutputDir { config }
    }
}

#[async_trait]
impl Step<QemuState> for StepPrepareOutputDir {
    fn name(&self) -> &'static str {
        "StepPrepareOutputDir"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let dir = &self.config.output_directory;
        let shown = dir.display();
        let non_empty = match std::fs::read_dir(dir) {
            Ok(mut it) => it.next().is_some(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => {
                return Err(StepError::msg(format!(
                    "cannot read output directory `{shown}`: {e}"
                )))
            }
        };
        if non_empty {
            if !self.config.force {
                return Err(StepError::msg(format!(
                    "output directory `{shown}` already exists and is not empty; use `-force` to replace it"
                )));
            }
            cx.ui.say("Deleting previous output directory...");
            tokio::fs::remove_dir_all(dir).await.map_err(|e| {
                StepError::msg(format!("cannot remove output directory `{shown}`: {e}"))
            })?;
        }
        state.output_dir = Some(dir.clone());
        tokio::fs::create_dir_all(dir).await.map_err(|e| {
            StepError::msg(format!("cannot create output directory `{shown}`: {e}"))
        })?;
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut QemuState) {
        if !cx.failed {
            return;
        }
        if let Some(dir) = state.output_dir.take() {
            cx.ui.say("Deleting output directory...");
            match tokio::fs::remove_dir_all(&dir).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => cx.ui.error(&format!(
                    "cannot remove output directory `{}`: {e}",
                    dir.display()
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{config_with, run_step};
    use serde_json::json;

    #[tokio::test]
    async fn refuses_non_empty_unless_forced_and_cleans_up_on_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("x"), "x").unwrap();
        let c = config_with(json!({"output_directory": out}), false);
        let (r, _, _) = run_step(StepPrepareOutputDir::new(c), QemuState::default(), false).await;
        let e = r.unwrap_err().to_string();
        assert!(
            e.contains("already exists and is not empty") && e.contains("-force"),
            "{e}"
        );
        assert!(out.join("x").exists());

        let c = config_with(json!({"output_directory": out}), true);
        let (r, state, _) =
            run_step(StepPrepareOutputDir::new(c), QemuState::default(), true).await;
        assert!(r.is_ok());
        // The runner failed later: cleanup removed the directory.
        assert!(state.output_dir.is_none());
        assert!(!out.exists());
    }
}
