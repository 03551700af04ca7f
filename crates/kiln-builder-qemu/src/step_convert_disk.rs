//! After shutdown: compacts the disk with `qemu-img convert` (compressed
//! with `disk_compression`) into a temporary file beside it, then renames
//! it over the original; skipped with `skip_compaction` (and so with
//! `use_backing_file`). Cleanup removes a half-written temporary file.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::{Compaction, Config};
use crate::driver::Driver;
use crate::QemuState;

/// See the module docs.
pub struct StepConvertDisk {
    config: Arc<Config>,
    driver: Arc<dyn Driver>,
    temp: Option<PathBuf>,
}

impl StepConvertDisk {
    /// The step for `config`.
    pub fn new(config: Arc<Config>, driver: Arc<dyn Driver>) -> Self {
        StepConvertDisk {
            config,
            driver,
            temp: None,
        }
    }
}

#[async_trait]
impl Step<QemuState> for StepConvertDisk {
    fn name(&self) -> &'static str {
        "StepConvertDisk"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let Compaction::Convert { compress } = self.config.disk.compaction else {
            return Ok(StepAction::Continue);
        };
        let disk = state
            .disk_path
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no disk"))?;
        let tmp = disk.with_extension("convert");
        let (d, t) = (disk.display().to_string(), tmp.display().to_string());
        cx.ui.say("Converting hard drive...");
        let mut args: Vec<String> = vec!["convert".into()];
        if compress {
            args.push("-c".into());
        }
        let fmt = self.config.format.as_str().to_string();
        args.extend([
            "-f".into(),
            fmt.clone(),
            "-O".into(),
            fmt,
            d.clone(),
            t.clone(),
        ]);
        self.temp = Some(tmp.clone());
        self.driver
            .run("qemu-img", &args)
            .await
            .map_err(|e| StepError::msg(format!("cannot convert disk `{d}`: {e}")))?;
        tokio::fs::rename(&tmp, &disk)
            .await
            .map_err(|e| StepError::msg(format!("cannot move `{t}` to `{d}`: {e}")))?;
        self.temp = None;
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, _: &StepContext<'_>, _: &mut QemuState) {
        if let Some(t) = self.temp.take() {
            let _ = tokio::fs::remove_file(t).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::tests::{config_with, run_step};
    use serde_json::json;

    #[tokio::test]
    async fn compresses_when_asked_and_skips_when_told() {
        let state = || QemuState {
            disk_path: Some("out/vm".into()),
            ..Default::default()
        };
        let d = Arc::new(FakeDriver {
            fail: Some("convert".into()),
            ..Default::default()
        });
        let c = config_with(json!({"disk_compression": true}), false);
        let (r, _, _) = run_step(StepConvertDisk::new(c, d.clone()), state(), false).await;
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("cannot convert disk `out/vm`"));
        assert_eq!(
            d.calls(),
            ["qemu-img convert -c -f qcow2 -O qcow2 out/vm out/vm.convert"]
        );
        let d = Arc::new(FakeDriver::default());
        let c = config_with(json!({"skip_compaction": true}), false);
        let (r, _, _) = run_step(StepConvertDisk::new(c, d.clone()), state(), false).await;
        assert!(r.is_ok());
        assert!(d.calls().is_empty());
    }
}
