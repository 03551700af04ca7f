//! `vtpm`: starts swtpm (Debian's `swtpm` package) with its state and
//! control socket in the temporary directory, TPM 2.0 unless `use_tpm1`,
//! and waits for the socket, which StepRun hands to QEMU
//! (`-chardev socket` + `-tpmdev emulator` + `-device tpm_device_type`).
//! Stores the process and socket in `QemuState`; cleanup kills swtpm (it
//! also exits by itself when QEMU closes the socket) and waits for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::{Config, TpmVersion};
use crate::driver::Driver;
use crate::QemuState;

/// See the module docs.
pub struct StepCreateVtpm {
    config: Arc<Config>,
    driver: Arc<dyn Driver>,
}

impl StepCreateVtpm {
    /// The step for `config`.
    pub fn new(config: Arc<Config>, driver: Arc<dyn Driver>) -> Self {
        StepCreateVtpm { config, driver }
    }
}

/// swtpm's arguments for a state directory and control socket.
pub fn swtpm_args(version: TpmVersion, dir: &str, socket: &str) -> Vec<String> {
    let mut a = vec![
        "socket".to_string(),
        "--tpmstate".into(),
        format!("dir={dir}"),
        "--ctrl".into(),
        format!("type=unixio,path={socket}"),
        "--terminate".into(),
    ];
    if version == TpmVersion::V2 {
        a.push("--tpm2".into());
    }
    a
}

#[async_trait]
impl Step<QemuState> for StepCreateVtpm {
    fn name(&self) -> &'static str {
        "StepCreateVTPM"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let Some(tpm) = &self.config.machine.tpm else {
            return Ok(StepAction::Continue);
        };
        if !self.driver.has("swtpm") {
            return Err(StepError::msg(
                "`vtpm` needs swtpm, which is not installed (install Debian's `swtpm` package)",
            ));
        }
        let tmp = state
            .temp_dir
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no temporary directory"))?;
        let dir = tmp.join("vtpm");
        std::fs::create_dir_all(&dir)
            .map_err(|e| StepError::msg(format!("cannot create `{}`: {e}", dir.display())))?;
        let socket = dir.join("swtpm.sock");
        cx.ui.say("Starting the virtual TPM (swtpm)...");
        let args = swtpm_args(
            tpm.version,
            &dir.display().to_string(),
            &socket.display().to_string(),
        );
        let log = tmp.join("swtpm.log");
        let proc = self
            .driver
            .start_vm("swtpm", &args, &log)
            .await
            .map_err(|e| StepError::msg(format!("cannot start swtpm: {e}")))?;
        state.vtpm = Some(proc);
        let start = Instant::now();
        while !socket.exists() {
            if let Some(exit) = state.vtpm.as_ref().and_then(|p| p.exit()) {
                return Err(StepError::msg(format!(
                    "swtpm exited ({}): {}",
                    exit.status,
                    crate::tail(Some(&log), 10)
                )));
            }
            if start.elapsed() > Duration::from_secs(10) {
                return Err(StepError::msg(format!(
                    "swtpm did not create `{}` within 10s",
                    socket.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        state.vtpm_socket = Some(socket);
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, _: &StepContext<'_>, state: &mut QemuState) {
        state.vtpm_socket = None;
        if let Some(p) = state.vtpm.take() {
            if p.exit().is_none() {
                p.kill();
                let _ = tokio::time::timeout(Duration::from_secs(5), p.wait()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::QemuDriver;
    use crate::tests::{config_with, run_step};
    use serde_json::json;

    #[test]
    fn tpm2_unless_use_tpm1() {
        assert_eq!(
            swtpm_args(TpmVersion::V2, "/d", "/d/s").join(" "),
            "socket --tpmstate dir=/d --ctrl type=unixio,path=/d/s --terminate --tpm2"
        );
        assert!(!swtpm_args(TpmVersion::V1_2, "/d", "/d/s").contains(&"--tpm2".to_string()));
    }

    /// The real swtpm starts, makes its socket, and cleanup stops it.
    #[tokio::test]
    async fn starts_and_stops_the_real_swtpm() {
        if !QemuDriver.has("swtpm") {
            panic!("swtpm is not installed: run scripts/install-deps.sh");
        }
        let tmp = tempfile::tempdir().unwrap();
        let c = config_with(json!({"vtpm": true}), false);
        let state = QemuState {
            temp_dir: Some(tmp.path().to_path_buf()),
            ..Default::default()
        };
        let (r, state, lines) =
            run_step(StepCreateVtpm::new(c, Arc::new(QemuDriver)), state, false).await;
        assert!(r.is_ok(), "{r:?} {lines:?}");
        let socket = state.vtpm_socket.clone().unwrap();
        assert!(socket.exists());
        let p = state.vtpm.as_ref().unwrap();
        assert!(p.exit().is_none(), "swtpm exited early");
        p.kill();
        let exit = tokio::time::timeout(Duration::from_secs(5), p.wait())
            .await
            .unwrap();
        assert!(!exit.success);
    }
}
