//! For `disk_image` builds: grows the copied disk to `disk_size` with
//! `qemu-img resize`, unless `skip_resize_disk`, or the image is already
//! at least that large (qemu-img refuses to shrink). Changes only the disk
//! that StepCopyDisk/StepCreateDisk made; nothing to undo. Does nothing
//! when the build starts from a checkpoint.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::{Config, SourceKind};
use crate::driver::Driver;
use crate::step_create_disk::image_format;
use crate::QemuState;

/// See the module docs.
pub struct StepResizeDisk {
    config: Arc<Config>,
    driver: Arc<dyn Driver>,
}

impl StepResizeDisk {
    /// The step for `config`.
    pub fn new(config: Arc<Config>, driver: Arc<dyn Driver>) -> Self {
        StepResizeDisk { config, driver }
    }
}

#[async_trait]
impl Step<QemuState> for StepResizeDisk {
    fn name(&self) -> &'static str {
        "StepResizeDisk"
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
        if c.source.kind == SourceKind::Iso || !c.disk.resize {
            return Ok(StepAction::Continue);
        }
        let path = state
            .disk_path
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no disk"))?
            .display()
            .to_string();
        let want = c.disk.size_mib * 1024 * 1024;
        let (_, size) = image_format(self.driver.as_ref(), &path).await?;
        if size >= want {
            cx.ui.message(&format!(
                "Disk is already {} MiB, not resizing to `disk_size` ({} MiB)",
                size >> 20,
                c.disk.size_mib
            ));
            return Ok(StepAction::Continue);
        }
        cx.ui.say(&format!(
            "Resizing hard drive to {} MiB...",
            c.disk.size_mib
        ));
        let mut args: Vec<String> = vec!["resize".into(), "-f".into(), c.format.as_str().into()];
        args.extend(c.disk.img_args.resize.iter().cloned());
        args.extend([path.clone(), format!("{}M", c.disk.size_mib)]);
        self.driver
            .run("qemu-img", &args)
            .await
            .map_err(|e| StepError::msg(format!("cannot resize disk `{path}`: {e}")))?;
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
    async fn grows_but_never_shrinks() {
        let c = config_with(
            json!({"disk_image": true, "disk_size": "2G", "qemu_img_args": {"resize": ["--shrink"]}}),
            false,
        );
        let state = || QemuState {
            disk_path: Some("d".into()),
            ..Default::default()
        };
        let small = Arc::new(FakeDriver {
            stdout: r#"{"format":"qcow2","virtual-size":1048576}"#.into(),
            ..Default::default()
        });
        let (r, _, _) = run_step(
            StepResizeDisk::new(c.clone(), small.clone()),
            state(),
            false,
        )
        .await;
        assert!(r.is_ok());
        assert_eq!(
            small.calls()[1],
            "qemu-img resize -f qcow2 --shrink d 2048M"
        );
        let big = Arc::new(FakeDriver {
            stdout: r#"{"format":"qcow2","virtual-size":9999999999}"#.into(),
            ..Default::default()
        });
        let (r, _, _) = run_step(StepResizeDisk::new(c, big.clone()), state(), false).await;
        assert!(r.is_ok());
        assert_eq!(big.calls().len(), 1);
    }
}
