//! For `disk_image` builds without a backing file: copies the source image
//! into the output directory as the VM's disk, in `format` (a plain copy
//! when the formats match, `qemu-img convert` otherwise). Records the path
//! in `QemuState::disk_path` before writing; the output directory's cleanup
//! removes it. Does nothing when the build starts from a checkpoint.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::{Config, SourceKind};
use crate::driver::Driver;
use crate::step_create_disk::image_format;
use crate::QemuState;

/// See the module docs.
pub struct StepCopyDisk {
    config: Arc<Config>,
    driver: Arc<dyn Driver>,
}

impl StepCopyDisk {
    /// The step for `config`.
    pub fn new(config: Arc<Config>, driver: Arc<dyn Driver>) -> Self {
        StepCopyDisk { config, driver }
    }
}

#[async_trait]
impl Step<QemuState> for StepCopyDisk {
    fn name(&self) -> &'static str {
        "StepCopyDisk"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        if state.restore.is_some() {
            // StepRestoreDisks makes the disks from the checkpoint.
            return Ok(StepAction::Continue);
        }
        let c = &self.config;
        if c.source.kind
            != (SourceKind::DiskImage {
                backing_file: false,
            })
        {
            return Ok(StepAction::Continue);
        }
        let src = state
            .source_path
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no source image"))?;
        let src_s = src.display().to_string();
        let dst = c.output_directory.join(&c.vm_name);
        let dst_s = dst.display().to_string();
        cx.ui.say("Copying hard drive...");
        let (format, _) = image_format(self.driver.as_ref(), &src_s).await?;
        state.disk_path = Some(dst.clone());
        if format == c.format.as_str() {
            tokio::fs::copy(&src, &dst)
                .await
                .map_err(|e| StepError::msg(format!("cannot copy `{src_s}` to `{dst_s}`: {e}")))?;
        } else {
            let args: Vec<String> = vec![
                "convert".into(),
                "-f".into(),
                format,
                "-O".into(),
                c.format.as_str().into(),
                src_s.clone(),
                dst_s.clone(),
            ];
            self.driver
                .run("qemu-img", &args)
                .await
                .map_err(|e| StepError::msg(format!("cannot copy `{src_s}` to `{dst_s}`: {e}")))?;
        }
        Ok(StepAction::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::tests::{config_with, run_step};
    use serde_json::json;

    #[tokio::test]
    async fn converts_between_formats_and_copies_otherwise() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("base.img");
        std::fs::write(&src, "disk").unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let c = config_with(
            json!({"disk_image": true, "output_directory": out, "vm_name": "vm"}),
            false,
        );
        let raw = Arc::new(FakeDriver {
            stdout: r#"{"format": "raw"}"#.into(),
            ..Default::default()
        });
        let state = QemuState {
            source_path: Some(src.clone()),
            ..Default::default()
        };
        let (r, _, _) = run_step(StepCopyDisk::new(c.clone(), raw.clone()), state, false).await;
        assert!(r.is_ok());
        assert!(
            raw.calls()[1].starts_with("qemu-img convert -f raw -O qcow2 "),
            "{:?}",
            raw.calls()
        );

        let q = Arc::new(FakeDriver {
            stdout: r#"{"format": "qcow2"}"#.into(),
            ..Default::default()
        });
        let state = QemuState {
            source_path: Some(src),
            ..Default::default()
        };
        let (r, _, _) = run_step(StepCopyDisk::new(c, q.clone()), state, false).await;
        assert!(r.is_ok());
        assert_eq!(q.calls().len(), 1);
        assert_eq!(std::fs::read_to_string(out.join("vm")).unwrap(), "disk");
    }
}
