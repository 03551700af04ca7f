//! The `qemu` builder (Packer's `builder/qemu`): boots an installer ISO on
//! a blank disk, or an existing disk image, under QEMU (KVM when it really
//! works, TCG otherwise), types the boot command through QMP, connects over
//! SSH (or not, with `communicator: none`), runs the provisioners, shuts
//! the machine down and leaves the disk image in `output_directory`. With
//! `-incremental` it saves the running VM after each provisioner and
//! starts the next build from the latest valid checkpoint instead of
//! booting (see [`checkpoint`] and [`step_checkpoint_plan`]).
//!
//! One step per file, as in Packer, over a typed [`QemuState`]. Cleanup, in
//! reverse: the VM is stopped (QMP `quit`, then SIGKILL), swtpm stops
//! (`vtpm`), the HTTP server
//! stops, temporary files (floppy, CD, sockets, logs) go, and the output
//! directory is removed after a failure unless `-on-error=abort`.

mod artifact;
pub mod bootcommand;
pub mod checkpoint;
pub mod checksum;
pub mod config;
pub mod driver;
pub mod qmp;
mod step_boot_overlay;
mod step_checkpoint_attach;
pub mod step_checkpoint_plan;
mod step_configure_vnc;
mod step_connect;
mod step_convert_disk;
mod step_copy_disk;
mod step_create_cd;
mod step_create_disk;
mod step_create_floppy;
mod step_create_vtpm;
mod step_download;
mod step_forward_port;
mod step_http_server;
mod step_prepare_output_dir;
mod step_provision;
mod step_resize_disk;
mod step_restore_disks;
mod step_restore_machine;
mod step_run;
mod step_shutdown;
mod step_temp_dir;
mod step_type_boot_command;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::communicator::{Communicator, NoCommunicator};
use kiln_sdk::component::{BuildContext, BuildError, GeneratedData};
use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_sdk::generated;
use kiln_sdk::step::{Runner, Step};
use kiln_sdk::steps::HasCommunicator;
use kiln_sdk::{Artifact, Builder, BuilderFactory, PrepareContext, Prepared};

pub use artifact::QemuArtifact;
pub use config::Config;
use driver::{Driver, QemuDriver, VmProcess};
use qmp::Qmp;

/// Packer's builder id for qemu.
pub const BUILDER_ID: &str = "transcend.qemu";

/// Registers the `qemu` builder type.
pub struct QemuBuilderFactory;

impl BuilderFactory for QemuBuilderFactory {
    fn name(&self) -> &'static str {
        "qemu"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Builder>>, ConfigErrors> {
        let config = config::prepare(raw, cx)?;
        let mut p = Prepared::new(Box::new(QemuBuilder {
            config: Arc::new(config),
            driver: Arc::new(QemuDriver),
        }) as Box<dyn Builder>);
        p.generated = kiln_ssh::GENERATED_DATA_KEYS
            .iter()
            .map(|k| k.to_string())
            .collect();
        Ok(p)
    }
}

/// A prepared qemu builder.
pub struct QemuBuilder {
    config: Arc<Config>,
    driver: Arc<dyn Driver>,
}

/// The qemu builder's step state. Each field is set by the step named in
/// its doc, before the call that may fail after creating the resource.
#[derive(Default)]
pub struct QemuState {
    /// StepTempDir: the build's temporary directory.
    pub temp_dir: Option<PathBuf>,
    /// StepDownload: the local ISO or disk image.
    pub source_path: Option<PathBuf>,
    /// StepPrepareOutputDir: the output directory, once this build made it.
    pub output_dir: Option<PathBuf>,
    /// StepCreateFloppy: the floppy image.
    pub floppy_path: Option<PathBuf>,
    /// StepCreateCD: the CD image.
    pub cd_path: Option<PathBuf>,
    /// StepCreateDisk / StepCopyDisk: the VM's disk, in the output directory.
    pub disk_path: Option<PathBuf>,
    /// StepCreateDisk: the `disk_additional_size` disks.
    pub additional_disks: Vec<PathBuf>,
    /// StepCreateVtpm: swtpm's control socket.
    pub vtpm_socket: Option<PathBuf>,
    /// StepCreateVtpm: the swtpm process.
    pub vtpm: Option<VmProcess>,
    /// StepRun: the VNC password, set over QMP.
    pub vnc_password: Option<kiln_sdk::Secret<String>>,
    /// StepHTTPServer: the port it listens on.
    pub http_port: Option<u16>,
    /// StepHTTPServer: stops the server when dropped or cancelled.
    pub http_stop: Option<tokio_util::sync::CancellationToken>,
    /// StepForwardPort: the host port forwarded to the guest's SSH port.
    pub comm_host_port: Option<u16>,
    /// StepConfigureVNC: the VNC port.
    pub vnc_port: Option<u16>,
    /// Listeners that hold the chosen ports until QEMU starts.
    pub port_holds: Vec<TcpListener>,
    /// StepRun: the QEMU process.
    pub vm: Option<VmProcess>,
    /// StepRun: the QMP connection.
    pub qmp: Option<Arc<Qmp>>,
    /// StepRun: the guest's serial console log.
    pub serial_log: Option<PathBuf>,
    /// StepRun: QEMU's own stdout and stderr.
    pub qemu_log: Option<PathBuf>,
    /// StepRun: the accelerator actually used.
    pub accelerator: Option<String>,
    /// StepConnect: the communicator.
    pub communicator: Option<Arc<dyn Communicator>>,
    /// Generated data for provisioners.
    pub generated: BTreeMap<String, String>,
    /// StepShutdown: the VM stopped as the build asked.
    pub shut_down: bool,
    /// StepDownload: the source as resolved (`URL@sha256:…` when its
    /// checksum is known), for the build record.
    pub source_image: Option<String>,
    /// StepDownload: the verified checksum of the source, `ALGO:HEX`.
    pub source_digest: Option<String>,
    /// StepCheckpointPlan: the build saves checkpoints (`-incremental`,
    /// and a source known by its content).
    pub checkpoints_on: bool,
    /// StepCheckpointPlan: the checkpoint the VM starts from; the disks
    /// are copied from it and the VM is restored instead of booted.
    pub restore: Option<step_checkpoint_plan::Restored>,
    /// StepRun: the writable UEFI variable store (`efi_boot`).
    pub efi_vars: Option<PathBuf>,
}

impl HasCommunicator for QemuState {
    fn communicator(&self) -> Arc<dyn Communicator> {
        self.communicator
            .clone()
            .unwrap_or_else(|| Arc::new(NoCommunicator))
    }
    fn generated(&self) -> GeneratedData {
        Arc::new(self.generated.clone())
    }
}

/// The last `lines` lines of a log file, for error messages.
pub(crate) fn tail(path: Option<&PathBuf>, lines: usize) -> String {
    let Some(p) = path else {
        return String::new();
    };
    let text = std::fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let all: Vec<&str> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A description of how the VM died, with the tails of QEMU's log and the
/// serial console.
pub(crate) fn vm_died(state: &QemuState, exit: &driver::VmExit) -> String {
    let mut m = format!("qemu exited unexpectedly ({})", exit.status);
    let q = tail(state.qemu_log.as_ref(), 10);
    if !q.is_empty() {
        m.push_str(&format!("\nqemu said:\n{q}"));
    }
    let s = tail(state.serial_log.as_ref(), 20);
    if !s.is_empty() {
        m.push_str(&format!("\nlast lines of the serial console:\n{s}"));
    }
    m
}

impl QemuBuilder {
    fn steps(&self, cx: &BuildContext<'_>) -> Vec<Box<dyn Step<QemuState>>> {
        let c = &self.config;
        let d = &self.driver;
        vec![
            Box::new(step_temp_dir::StepTempDir),
            Box::new(step_download::StepDownload::new(c.clone(), d.clone())),
            Box::new(step_checkpoint_plan::StepCheckpointPlan::new(
                c.clone(),
                d.clone(),
                cx.checkpoints.clone(),
            )),
            Box::new(step_prepare_output_dir::StepPrepareOutputDir::new(
                c.clone(),
            )),
            Box::new(step_create_floppy::StepCreateFloppy::new(
                c.clone(),
                d.clone(),
            )),
            Box::new(step_create_cd::StepCreateCd::new(c.clone(), d.clone())),
            Box::new(step_create_disk::StepCreateDisk::new(c.clone(), d.clone())),
            Box::new(step_copy_disk::StepCopyDisk::new(c.clone(), d.clone())),
            Box::new(step_resize_disk::StepResizeDisk::new(c.clone(), d.clone())),
            Box::new(step_restore_disks::StepRestoreDisks::new(
                c.clone(),
                d.clone(),
            )),
            Box::new(step_http_server::StepHttpServer::new(c.clone())),
            Box::new(step_forward_port::StepForwardPort::new(c.clone())),
            Box::new(step_configure_vnc::StepConfigureVnc::new(c.clone())),
            Box::new(step_create_vtpm::StepCreateVtpm::new(c.clone(), d.clone())),
            Box::new(step_run::StepRun::new(c.clone(), d.clone())),
            Box::new(step_restore_machine::StepRestoreMachine),
            Box::new(step_type_boot_command::StepTypeBootCommand::new(c.clone())),
            Box::new(step_connect::StepConnect::new(c.clone())),
            Box::new(step_checkpoint_attach::StepCheckpointAttach::new(
                c.clone(),
                d.clone(),
                cx.checkpoints.clone(),
            )),
            Box::new(step_provision::StepProvision::new(
                cx.hook.clone(),
                cx.on_error,
            )),
            Box::new(step_shutdown::StepShutdown::new(c.clone())),
            Box::new(step_convert_disk::StepConvertDisk::new(
                c.clone(),
                d.clone(),
            )),
        ]
    }
}

#[async_trait]
impl Builder for QemuBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let mut state = QemuState::default();
        state.generated.insert(
            generated::CONN_TYPE.into(),
            self.config.communicator.kind().to_string(),
        );
        state
            .generated
            .insert(generated::PACKER_RUN_UUID.into(), cx.run_uuid.to_string());
        let runner = Runner::new(self.steps(&cx))
            .on_error(cx.on_error)
            .debug(cx.debug);
        let result = runner.run(cx.ui.as_ref(), &cx.cancel, &mut state).await;
        if let Some(source) = state.source_image.take() {
            cx.record.set_source_image(source);
        }
        result?;
        let artifact =
            QemuArtifact::collect(&self.config).map_err(|e| BuildError::msg(e.message))?;
        Ok(Some(Arc::new(artifact)))
    }

    /// Boots the output disk through a temporary qcow2 overlay (the disk is
    /// never written), with fresh port forwarding and the build's
    /// communicator, fires the hook, then stops QEMU and deletes the
    /// overlay: the build's own steps, without the disk creation, the boot
    /// command, the shutdown and the conversion.
    async fn boot(
        &self,
        cx: BuildContext<'_>,
        artifact: Arc<dyn Artifact>,
    ) -> Result<bool, BuildError> {
        if artifact.builder_id() != BUILDER_ID {
            return Err(BuildError::msg(format!(
                "the qemu builder can boot only its own disk images, not artifact `{}` of `{}`",
                artifact.id(),
                artifact.builder_id()
            )));
        }
        let c = self.boot_config()?;
        let d = &self.driver;
        let mut disks = vec![self.config.output_directory.join(&self.config.vm_name)];
        disks.extend((1..=self.config.disk.additional_bytes.len()).map(|i| {
            self.config
                .output_directory
                .join(format!("{}-{i}", self.config.vm_name))
        }));
        let steps: Vec<Box<dyn Step<QemuState>>> = vec![
            Box::new(step_temp_dir::StepTempDir),
            Box::new(step_boot_overlay::StepBootOverlay::new(disks, d.clone())),
            Box::new(step_create_floppy::StepCreateFloppy::new(
                c.clone(),
                d.clone(),
            )),
            Box::new(step_create_cd::StepCreateCd::new(c.clone(), d.clone())),
            Box::new(step_http_server::StepHttpServer::new(c.clone())),
            Box::new(step_forward_port::StepForwardPort::new(c.clone())),
            Box::new(step_create_vtpm::StepCreateVtpm::new(c.clone(), d.clone())),
            Box::new(step_run::StepRun::new(c.clone(), d.clone())),
            Box::new(step_connect::StepConnect::new(c.clone())),
            Box::new(step_provision::StepProvision::new(
                cx.hook.clone(),
                cx.on_error,
            )),
        ];
        let mut state = QemuState::default();
        state.generated.insert(
            generated::CONN_TYPE.into(),
            c.communicator.kind().to_string(),
        );
        state
            .generated
            .insert(generated::PACKER_RUN_UUID.into(), cx.run_uuid.to_string());
        let runner = Runner::new(steps).on_error(cx.on_error).debug(cx.debug);
        runner.run(cx.ui.as_ref(), &cx.cancel, &mut state).await?;
        Ok(true)
    }
}

impl QemuBuilder {
    /// The build's config as a boot of its output uses it: a disk image
    /// (no installer ISO, no boot command), headless without VNC, the
    /// QMP socket and an EFI variable store in the temporary directory
    /// (a copy of the artifact's `efivars.fd` when it has one).
    fn boot_config(&self) -> Result<Arc<Config>, BuildError> {
        let mut c = (*self.config).clone();
        if c.machine.qemuargs.iter().any(|a| {
            matches!(
                a.first().map(String::as_str),
                Some("-drive" | "-hda" | "-blockdev")
            )
        }) {
            return Err(BuildError::msg(
                "the output cannot be booted safely: `qemuargs` sets the disks itself (`-drive`, `-hda` or `-blockdev`), so a boot could write to the image",
            ));
        }
        c.source.kind = config::SourceKind::DiskImage {
            backing_file: false,
        };
        c.format = config::DiskFormat::Qcow2;
        c.boot.steps.clear();
        c.boot.wait = None;
        c.vnc = None;
        c.qmp_socket_path = None;
        if let config::Firmware::Efi(e) = &mut c.machine.firmware {
            let kept = self.config.output_directory.join("efivars.fd");
            if !e.drop_vars && kept.is_file() {
                if e.code.is_none() {
                    e.code = step_run::find_ovmf().map(|(code, _)| code);
                }
                e.vars = Some(kept);
            }
            e.drop_vars = true;
        }
        Ok(Arc::new(c))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Helpers for the steps' unit tests.
    use super::*;
    use kiln_sdk::step::{StepAction, StepError};
    use kiln_sdk::ui::RecordingUi;

    /// A prepared config from `extra` keys over a minimal ISO build.
    pub fn config_with(extra: serde_json::Value, force: bool) -> Arc<Config> {
        let mut v =
            serde_json::json!({"iso_url": "x.iso", "iso_checksum": "none", "communicator": "none"});
        if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            for (k, val) in e {
                m.insert(k.clone(), val.clone());
            }
            if e.contains_key("iso_urls") {
                m.remove("iso_url");
            }
        }
        let mut cx = kiln_test::prepare_cx("qemu");
        cx.force = force;
        Arc::new(config::prepare(&RawConfig::from_value(v), &cx).unwrap_or_else(|e| panic!("{e}")))
    }

    /// Runs one step; with `then_fail`, also runs its cleanup as after a
    /// later failure. Returns the result, the state and the UI's lines.
    pub async fn run_step<S: Step<QemuState>>(
        mut step: S,
        mut state: QemuState,
        then_fail: bool,
    ) -> (Result<StepAction, StepError>, QemuState, Vec<String>) {
        let ui = RecordingUi::default();
        let cx = kiln_sdk::step::StepContext {
            ui: &ui,
            cancel: Default::default(),
            failed: false,
        };
        let r = step.run(&cx, &mut state).await;
        if then_fail {
            let cx = kiln_sdk::step::StepContext {
                ui: &ui,
                cancel: Default::default(),
                failed: true,
            };
            step.cleanup(&cx, &mut state).await;
        }
        (r, state, ui.lines())
    }
}
