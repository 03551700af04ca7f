//! For a build restored from a checkpoint (`QemuState::restore`): makes
//! the VM's disks from the checkpoint's copies, in place of StepCreateDisk,
//! StepCopyDisk and StepResizeDisk (which then do nothing), at the paths a
//! plain build uses (`OUTPUT_DIRECTORY/VM_NAME`, `VM_NAME-1`…). The
//! checkpoint's directory is read-only, so every disk is written anew: a
//! standalone disk with `qemu-img convert` into `format`; a
//! `use_backing_file` overlay as a copy whose backing file is set to this
//! build's source again (`qemu-img rebase -u`: the source has the same
//! content, its digest is one of the checkpoint's inputs). Records the
//! paths in `QemuState::disk_path` and `additional_disks` before writing;
//! the output directory's cleanup removes them.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::Config;
use crate::driver::Driver;
use crate::step_create_disk::image_format;
use crate::QemuState;

/// See the module docs.
pub struct StepRestoreDisks {
    config: Arc<Config>,
    driver: Arc<dyn Driver>,
}

impl StepRestoreDisks {
    /// The step for `config`.
    pub fn new(config: Arc<Config>, driver: Arc<dyn Driver>) -> Self {
        StepRestoreDisks { config, driver }
    }
}

#[async_trait]
impl Step<QemuState> for StepRestoreDisks {
    fn name(&self) -> &'static str {
        "StepRestoreDisks"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let Some(restore) = state.restore.clone() else {
            return Ok(StepAction::Continue);
        };
        let c = &self.config;
        cx.ui
            .say("Copying the disks from the checkpoint (no disk is created)");
        let fmt = c.format.as_str().to_string();
        for (i, saved) in restore.data.disks.iter().enumerate() {
            let src = restore.dir.join(&saved.file);
            let dst = if i == 0 {
                c.output_directory.join(&c.vm_name)
            } else {
                c.output_directory.join(format!("{}-{i}", c.vm_name))
            };
            let (s, d) = (src.display().to_string(), dst.display().to_string());
            if i == 0 {
                state.disk_path = Some(dst.clone());
            } else {
                state.additional_disks.push(dst.clone());
            }
            if saved.overlay {
                let source: PathBuf = state
                    .source_path
                    .clone()
                    .ok_or_else(|| StepError::msg("internal error: no source image"))?;
                let source = std::fs::canonicalize(&source).map_err(|e| {
                    StepError::msg(format!("cannot resolve `{}`: {e}", source.display()))
                })?;
                let source = source.display().to_string();
                let (source_format, _) = image_format(self.driver.as_ref(), &source).await?;
                tokio::fs::copy(&src, &dst)
                    .await
                    .map_err(|e| StepError::msg(format!("cannot copy `{s}` to `{d}`: {e}")))?;
                let args: Vec<String> = vec![
                    "rebase".into(),
                    "-u".into(),
                    "-f".into(),
                    saved.format.clone(),
                    "-b".into(),
                    source,
                    "-F".into(),
                    source_format,
                    d.clone(),
                ];
                self.driver.run("qemu-img", &args).await.map_err(|e| {
                    StepError::msg(format!("cannot set the backing file of `{d}`: {e}"))
                })?;
            } else {
                let args: Vec<String> = vec![
                    "convert".into(),
                    "-f".into(),
                    saved.format.clone(),
                    "-O".into(),
                    fmt.clone(),
                    s.clone(),
                    d.clone(),
                ];
                self.driver
                    .run("qemu-img", &args)
                    .await
                    .map_err(|e| StepError::msg(format!("cannot copy `{s}` to `{d}`: {e}")))?;
            }
        }
        Ok(StepAction::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{CheckpointData, SavedDisk, LAYOUT, STATE_FILE};
    use crate::driver::fake::FakeDriver;
    use crate::step_checkpoint_plan::Restored;
    use crate::tests::{config_with, run_step};
    use serde_json::json;

    fn restored(dir: &std::path::Path, overlay: bool, extra: usize) -> Restored {
        let mut disks = vec![SavedDisk {
            file: "disk0.qcow2".into(),
            format: "qcow2".into(),
            overlay,
        }];
        for i in 1..=extra {
            disks.push(SavedDisk {
                file: format!("disk{i}.qcow2"),
                format: "qcow2".into(),
                overlay: false,
            });
        }
        Restored {
            dir: dir.to_path_buf(),
            after: 1,
            data: CheckpointData {
                layout: LAYOUT,
                state: STATE_FILE.into(),
                disks,
                efivars: None,
            },
        }
    }

    #[tokio::test]
    async fn does_nothing_without_a_checkpoint() {
        let c = config_with(json!({}), false);
        let d = Arc::new(FakeDriver::default());
        let (r, state, _) = run_step(
            StepRestoreDisks::new(c, d.clone()),
            QemuState::default(),
            false,
        )
        .await;
        assert!(r.is_ok());
        assert!(d.calls().is_empty() && state.disk_path.is_none());
    }

    #[tokio::test]
    async fn converts_standalone_disks_into_the_format() {
        let tmp = tempfile::tempdir().unwrap();
        let c = config_with(
            json!({"output_directory": "out", "vm_name": "vm", "format": "raw", "disk_additional_size": ["1M"]}),
            false,
        );
        let d = Arc::new(FakeDriver::default());
        let state = QemuState {
            restore: Some(restored(tmp.path(), false, 1)),
            ..Default::default()
        };
        let (r, state, lines) = run_step(StepRestoreDisks::new(c, d.clone()), state, false).await;
        assert!(r.is_ok(), "{r:?}");
        let t = tmp.path().display();
        assert_eq!(
            d.calls(),
            [
                format!("qemu-img convert -f qcow2 -O raw {t}/disk0.qcow2 out/vm"),
                format!("qemu-img convert -f qcow2 -O raw {t}/disk1.qcow2 out/vm-1"),
            ]
        );
        assert_eq!(state.disk_path, Some("out/vm".into()));
        assert_eq!(state.additional_disks, [PathBuf::from("out/vm-1")]);
        assert!(
            lines.iter().any(|l| l.contains("from the checkpoint")),
            "{lines:?}"
        );
    }

    #[tokio::test]
    async fn overlays_get_the_source_as_backing_file_again() {
        let tmp = tempfile::tempdir().unwrap();
        let ck = tmp.path().join("ck");
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&ck).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(ck.join("disk0.qcow2"), "overlay").unwrap();
        let base = tmp.path().join("base.qcow2");
        std::fs::write(&base, "").unwrap();
        let c = config_with(
            json!({"iso_url": base, "disk_image": true, "use_backing_file": true,
                   "output_directory": out, "vm_name": "vm"}),
            false,
        );
        let d = Arc::new(FakeDriver {
            stdout: r#"{"format": "qcow2"}"#.into(),
            ..Default::default()
        });
        let state = QemuState {
            restore: Some(restored(&ck, true, 0)),
            source_path: Some(base.clone()),
            ..Default::default()
        };
        let (r, _, _) = run_step(StepRestoreDisks::new(c, d.clone()), state, false).await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(std::fs::read_to_string(out.join("vm")).unwrap(), "overlay");
        let base = std::fs::canonicalize(base).unwrap();
        assert_eq!(
            d.calls()[1],
            format!(
                "qemu-img rebase -u -f qcow2 -b {} -F qcow2 {}",
                base.display(),
                out.join("vm").display()
            )
        );
    }
}
