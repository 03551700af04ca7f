//! Creates the VM's disk in the output directory with `qemu-img create`:
//! a blank disk of `disk_size` for an ISO build, or, with
//! `use_backing_file`, a qcow2 overlay on the source image (with `-F`, which
//! qemu-img 10 requires and Packer 1.6.6 does not pass), plus one blank
//! disk per `disk_additional_size` entry (`VM_NAME-1`, `-2`…), with
//! `qemu_img_args.create` after `-f FORMAT`. Records the paths in
//! `QemuState::disk_path` and `additional_disks`; the output directory's
//! cleanup removes them. Does nothing when the build starts from a
//! checkpoint (StepRestoreDisks makes the disks then).

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::{Config, SourceKind};
use crate::driver::Driver;
use crate::QemuState;

/// See the module docs.
pub struct StepCreateDisk {
    config: Arc<Config>,
    driver: Arc<dyn Driver>,
}

impl StepCreateDisk {
    /// The step for `config`.
    pub fn new(config: Arc<Config>, driver: Arc<dyn Driver>) -> Self {
        StepCreateDisk { config, driver }
    }
}

/// The format `qemu-img info` reports for `path`.
pub async fn image_format(driver: &dyn Driver, path: &str) -> Result<(String, u64), StepError> {
    let out = driver
        .run(
            "qemu-img",
            &["info".into(), "--output=json".into(), path.into()],
        )
        .await
        .map_err(|e| StepError::msg(format!("cannot inspect `{path}`: {e}")))?;
    let v: serde_json::Value = serde_json::from_str(&out).map_err(|e| {
        StepError::msg(format!(
            "cannot read `qemu-img info` output for `{path}`: {e}"
        ))
    })?;
    Ok((
        v.get("format")
            .and_then(|f| f.as_str())
            .unwrap_or("raw")
            .to_string(),
        v.get("virtual-size").and_then(|s| s.as_u64()).unwrap_or(0),
    ))
}

#[async_trait]
impl Step<QemuState> for StepCreateDisk {
    fn name(&self) -> &'static str {
        "StepCreateDisk"
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
        let backing = match c.source.kind {
            SourceKind::Iso => None,
            SourceKind::DiskImage { backing_file: true } => state.source_path.clone(),
            SourceKind::DiskImage {
                backing_file: false,
            } => None,
        };
        let main = c.source.kind == SourceKind::Iso || backing.is_some();
        if !main && c.disk.additional_bytes.is_empty() {
            return Ok(StepAction::Continue);
        }
        cx.ui.say("Creating required virtual machine disks");
        if main {
            let path = c.output_directory.join(&c.vm_name);
            let shown = path.display().to_string();
            let mut args: Vec<String> =
                vec!["create".into(), "-f".into(), c.format.as_str().into()];
            args.extend(c.disk.img_args.create.iter().cloned());
            if let Some(b) = &backing {
                let b = b.display().to_string();
                // A URL (`iso_skip_cache`) is QEMU's to open.
                let abs = if b.contains("://") {
                    b
                } else {
                    std::fs::canonicalize(&b)
                        .map_err(|e| StepError::msg(format!("cannot resolve `{b}`: {e}")))?
                        .display()
                        .to_string()
                };
                let (format, _) = image_format(self.driver.as_ref(), &abs).await?;
                args.extend(["-b".into(), abs, "-F".into(), format]);
            }
            args.push(shown.clone());
            args.push(format!("{}M", c.disk.size_mib));
            state.disk_path = Some(path);
            self.driver
                .run("qemu-img", &args)
                .await
                .map_err(|e| StepError::msg(format!("cannot create disk `{shown}`: {e}")))?;
        }
        for (i, bytes) in c.disk.additional_bytes.iter().enumerate() {
            let path = c.output_directory.join(format!("{}-{}", c.vm_name, i + 1));
            let shown = path.display().to_string();
            let mut args: Vec<String> =
                vec!["create".into(), "-f".into(), c.format.as_str().into()];
            args.extend(c.disk.img_args.create.iter().cloned());
            args.push(shown.clone());
            args.push(bytes.to_string());
            state.additional_disks.push(path);
            self.driver
                .run("qemu-img", &args)
                .await
                .map_err(|e| StepError::msg(format!("cannot create disk `{shown}`: {e}")))?;
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
    use std::path::PathBuf;

    #[tokio::test]
    async fn creates_a_blank_disk_for_isos() {
        let c = config_with(json!({"output_directory": "out", "disk_size": "2G"}), false);
        let d = Arc::new(FakeDriver::default());
        let (r, state, _) = run_step(
            StepCreateDisk::new(c, d.clone()),
            QemuState::default(),
            false,
        )
        .await;
        assert!(r.is_ok());
        assert_eq!(
            d.calls(),
            ["qemu-img create -f qcow2 out/packer-qemu 2048M"]
        );
        assert_eq!(state.disk_path, Some("out/packer-qemu".into()));
    }

    #[tokio::test]
    async fn backing_files_pass_the_backing_format() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("base.qcow2");
        std::fs::write(&base, "").unwrap();
        let c = config_with(
            json!({"iso_url": base, "disk_image": true, "use_backing_file": true, "output_directory": "out"}),
            false,
        );
        let d = Arc::new(FakeDriver {
            stdout: r#"{"format": "qcow2", "virtual-size": 1}"#.into(),
            ..Default::default()
        });
        let state = QemuState {
            source_path: Some(base.clone()),
            ..Default::default()
        };
        let (r, _, _) = run_step(StepCreateDisk::new(c, d.clone()), state, false).await;
        assert!(r.is_ok(), "{r:?}");
        let base = std::fs::canonicalize(base).unwrap();
        assert_eq!(
            d.calls()[1],
            format!(
                "qemu-img create -f qcow2 -b {} -F qcow2 out/packer-qemu 40960M",
                base.display()
            )
        );
    }

    #[tokio::test]
    async fn copied_disk_images_are_not_created() {
        let c = config_with(json!({"disk_image": true}), false);
        let d = Arc::new(FakeDriver::default());
        let (r, _, _) = run_step(
            StepCreateDisk::new(c, d.clone()),
            QemuState::default(),
            false,
        )
        .await;
        assert!(r.is_ok());
        assert!(d.calls().is_empty());
    }

    #[tokio::test]
    async fn additional_disks_and_qemu_img_args() {
        let c = config_with(
            json!({"output_directory": "out", "vm_name": "vm", "disk_size": "1G",
                   "disk_additional_size": ["64M", "1G"],
                   "qemu_img_args": {"create": ["-o", "preallocation=off"]}}),
            false,
        );
        let d = Arc::new(FakeDriver::default());
        let (r, state, _) = run_step(
            StepCreateDisk::new(c, d.clone()),
            QemuState::default(),
            false,
        )
        .await;
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(
            d.calls(),
            [
                "qemu-img create -f qcow2 -o preallocation=off out/vm 1024M",
                "qemu-img create -f qcow2 -o preallocation=off out/vm-1 67108864",
                "qemu-img create -f qcow2 -o preallocation=off out/vm-2 1073741824",
            ]
        );
        assert_eq!(
            state.additional_disks,
            [PathBuf::from("out/vm-1"), PathBuf::from("out/vm-2")]
        );
    }

    #[tokio::test]
    async fn copied_disk_images_still_get_additional_disks() {
        let c = config_with(
            json!({"disk_image": true, "output_directory": "o", "vm_name": "v", "disk_additional_size": ["1M"]}),
            false,
        );
        let d = Arc::new(FakeDriver::default());
        let (r, state, _) = run_step(
            StepCreateDisk::new(c, d.clone()),
            QemuState::default(),
            false,
        )
        .await;
        assert!(r.is_ok());
        assert_eq!(d.calls(), ["qemu-img create -f qcow2 o/v-1 1048576"]);
        assert_eq!(state.disk_path, None);
    }
}
