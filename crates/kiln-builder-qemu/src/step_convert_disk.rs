//! After shutdown: compacts the disk with `qemu-img convert` (compressed
//! with `disk_compression`) into a temporary file beside it, then renames
//! it over the original, for the main disk and every
//! `disk_additional_size` disk, with `qemu_img_args.convert` right after
//! `convert`; skipped with `skip_compaction` (and so with
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
        let mut disks = vec![state
            .disk_path
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no disk"))?];
        disks.extend(state.additional_disks.iter().cloned());
        cx.ui.say("Converting hard drive...");
        for disk in disks {
            let tmp = disk.with_extension("convert");
            let (d, t) = (disk.display().to_string(), tmp.display().to_string());
            let mut args: Vec<String> = vec!["convert".into()];
            args.extend(self.config.disk.img_args.convert.iter().cloned());
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
        }
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

    #[tokio::test]
    async fn converts_every_disk_with_the_users_arguments() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("vm"), tmp.path().join("vm-1"));
        for p in [&a, &b] {
            std::fs::write(p, "old").unwrap();
            // The fake qemu-img writes nothing: stand in for its output.
            std::fs::write(p.with_extension("convert"), "new").unwrap();
        }
        let state = QemuState {
            disk_path: Some(a.clone()),
            additional_disks: vec![b.clone()],
            ..Default::default()
        };
        let d = Arc::new(FakeDriver::default());
        let c = config_with(
            json!({"qemu_img_args": {"convert": ["-o", "preallocation=full"]}}),
            false,
        );
        let (r, _, _) = run_step(StepConvertDisk::new(c, d.clone()), state, false).await;
        assert!(r.is_ok(), "{r:?}");
        let calls = d.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(
            calls[1],
            format!(
                "qemu-img convert -o preallocation=full -f qcow2 -O qcow2 {} {}",
                b.display(),
                b.with_extension("convert").display()
            )
        );
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "new");
    }
}
