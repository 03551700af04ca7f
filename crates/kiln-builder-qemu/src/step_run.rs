//! Starts QEMU: resolves the accelerator (KVM only when it really runs a
//! guest), builds the command line from Packer's defaults with `qemuargs`
//! overriding them switch by switch, starts the process with its output,
//! QMP socket and serial console in the temporary directory, and connects
//! QMP. When the build starts from a checkpoint (`QemuState::restore`), the
//! command line is the same plus `-S -incoming defer` (StepRestoreMachine
//! then loads the saved state) and the UEFI variable store is the
//! checkpoint's instead of a fresh one. Stores the process, the QMP client and the log paths in
//! `QemuState`; cleanup stops a VM that is still running (QMP `quit`, then
//! SIGKILL) and waits for it, so no qemu process outlives the build.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::interpolate;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use kiln_sdk::Secret;
use kiln_ssh::CommunicatorConfig;
use serde_json::json;

use crate::config::{Accelerator, Config, Display, Firmware, Network, SourceKind, VncPassword};
use crate::driver::Driver;
use crate::qmp::Qmp;
use crate::{vm_died, QemuState};

/// What the command line needs besides the config.
#[derive(Debug, Clone, Default)]
pub struct RunInputs {
    /// The VM's disk.
    pub disk: PathBuf,
    /// The `disk_additional_size` disks.
    pub additional_disks: Vec<PathBuf>,
    /// swtpm's control socket (`vtpm`).
    pub tpm_socket: Option<PathBuf>,
    /// The ISO (ISO builds).
    pub iso: Option<PathBuf>,
    /// The extra CD.
    pub cd: Option<PathBuf>,
    /// The floppy.
    pub floppy: Option<PathBuf>,
    /// The forwarded host port and the guest port.
    pub forward: Option<(u16, u16)>,
    /// The VNC port.
    pub vnc_port: Option<u16>,
    /// The QMP socket.
    pub qmp_socket: PathBuf,
    /// The serial console log.
    pub serial_log: PathBuf,
    /// `kvm`, `tcg`… or `None` for no `accel=`.
    pub accelerator: Option<String>,
    /// UEFI code and variables.
    pub efi: Option<(PathBuf, PathBuf)>,
    /// `-display`, resolved.
    pub display: Option<String>,
    /// For rendering `qemuargs`.
    pub http_ip: String,
    /// For rendering `qemuargs`.
    pub http_port: u16,
    /// Wait, paused, for a migration stream (`-S -incoming defer`): the
    /// VM is restored from a checkpoint, not booted.
    pub incoming: bool,
}

/// QEMU's arguments: Packer's defaults, with each switch that appears in
/// `qemuargs` replaced by the user's values (all of them, in order), and
/// the user's other switches appended. A `-device` override that omits
/// `net_device` gets it added back (Packer #6804).
pub fn command_args(c: &Config, i: &RunInputs) -> Result<Vec<String>, String> {
    let m = &c.machine;
    let mut defaults: Vec<(&str, Vec<String>)> = Vec::new();
    defaults.push(("-name", vec![c.vm_name.clone()]));
    let mut machine = format!("type={}", m.machine_type);
    if let Some(a) = &i.accelerator {
        machine.push_str(&format!(",accel={a}"));
    }
    defaults.push(("-machine", vec![machine]));
    let netdev = match (&m.network, i.forward) {
        (Network::Bridge(br), _) => format!("bridge,id=user.0,br={br}"),
        (Network::User { .. }, Some((host, guest))) => {
            format!("user,id=user.0,hostfwd=tcp::{host}-:{guest}")
        }
        (Network::User { .. }, None) => "user,id=user.0".to_string(),
    };
    defaults.push(("-netdev", vec![netdev]));
    let net_device = format!("{},netdev=user.0", m.net_device);
    let mut devices = vec![net_device.clone()];
    let disk = i.disk.display().to_string();
    let fmt = c.format.as_str();
    let mut drive_opts = format!(
        "cache={},discard={},format={fmt}",
        c.disk.cache, c.disk.discard
    );
    if c.disk.detect_zeroes != "off" {
        drive_opts.push_str(&format!(",detect-zeroes={}", c.disk.detect_zeroes));
    }
    let mut drives = Vec::new();
    let all_disks =
        std::iter::once(disk).chain(i.additional_disks.iter().map(|d| d.display().to_string()));
    for (n, disk) in all_disks.enumerate() {
        if c.disk.interface == "virtio-scsi" {
            if n == 0 {
                devices.push("virtio-scsi-pci,id=scsi0".into());
            }
            devices.push(format!("scsi-hd,bus=scsi0.0,drive=drive{n}"));
            drives.push(format!("if=none,file={disk},id=drive{n},{drive_opts}"));
        } else {
            drives.push(format!("file={disk},if={},{drive_opts}", c.disk.interface));
        }
    }
    if let Firmware::Pflash(p) = &m.firmware {
        drives.push(format!(
            "file={},if=pflash,format=raw,readonly=on",
            p.display()
        ));
    }
    if let Some(sock) = &i.tpm_socket {
        if let Some(tpm) = &m.tpm {
            defaults.push((
                "-chardev",
                vec![format!("socket,id=vtpm,path={}", sock.display())],
            ));
            defaults.push(("-tpmdev", vec!["emulator,id=tpm0,chardev=vtpm".into()]));
            devices.push(format!("{},tpmdev=tpm0", tpm.device));
        }
    }
    if let Some((code, vars)) = &i.efi {
        drives.push(format!(
            "if=pflash,unit=0,format=raw,readonly=on,file={}",
            code.display()
        ));
        drives.push(format!(
            "if=pflash,unit=1,format=raw,file={}",
            vars.display()
        ));
    }
    let mut cdrom = None;
    if let Some(iso) = &i.iso {
        if m.cdrom_interface.is_empty() {
            cdrom = Some(iso.display().to_string());
        } else {
            drives.push(format!(
                "file={},if={},index=0,media=cdrom",
                iso.display(),
                m.cdrom_interface
            ));
        }
    }
    if let Some(cd) = &i.cd {
        drives.push(format!("file={},media=cdrom", cd.display()));
    }
    defaults.push(("-device", devices));
    defaults.push(("-drive", drives));
    if let Some(cd) = cdrom {
        defaults.push(("-cdrom", vec![cd]));
    }
    let boot = match c.source.kind {
        SourceKind::Iso => "once=d",
        SourceKind::DiskImage { .. } => "c",
    };
    defaults.push(("-boot", vec![boot.into()]));
    defaults.push(("-m", vec![format!("{}M", m.memory_mib)]));
    if let Some(smp) = m.smp.arg() {
        defaults.push(("-smp", vec![smp]));
    }
    if let Some(cpu) = &m.cpu_model {
        defaults.push(("-cpu", vec![cpu.clone()]));
    }
    if let Some(vga) = &m.vga {
        defaults.push(("-vga", vec![vga.clone()]));
    }
    if let Some(f) = &i.floppy {
        defaults.push(("-fda", vec![f.display().to_string()]));
    }
    if let Firmware::Bios(p) = &m.firmware {
        defaults.push(("-bios", vec![p.display().to_string()]));
    }
    if let (Some(vnc), Some(port)) = (&c.vnc, i.vnc_port) {
        let password = if vnc.password.is_some() {
            ",password=on"
        } else {
            ""
        };
        defaults.push((
            "-vnc",
            vec![format!("{}:{}{password}", vnc.bind_address, port - 5900)],
        ));
    }
    if let Some(d) = &i.display {
        defaults.push(("-display", vec![d.clone()]));
    }
    defaults.push((
        "-qmp",
        vec![format!(
            "unix:{},server=on,wait=off",
            i.qmp_socket.display()
        )],
    ));
    defaults.push(("-serial", vec![format!("file:{}", i.serial_log.display())]));

    // The user's switches, rendered and grouped.
    let ctx = c.interpolation.with_data([
        ("HTTPIP", json!(i.http_ip)),
        ("HTTPPort", json!(i.http_port)),
        ("OutputDir", json!(c.output_directory.display().to_string())),
        ("Name", json!(c.vm_name)),
        ("SSHHostPort", json!(i.forward.map(|f| f.0).unwrap_or(0))),
    ]);
    let mut user: Vec<(String, Vec<String>)> = Vec::new();
    for arg in &m.qemuargs {
        let mut rendered = Vec::with_capacity(arg.len());
        for part in arg {
            rendered.push(
                interpolate::render(part, &ctx)
                    .map_err(|e| format!("cannot render `qemuargs`: {e}"))?,
            );
        }
        let Some((key, rest)) = rendered.split_first() else {
            continue;
        };
        let val = rest.concat();
        let slot = match user.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => v,
            None => {
                user.push((key.clone(), Vec::new()));
                &mut user.last_mut().ok_or("internal error")?.1
            }
        };
        if !val.is_empty() {
            slot.push(val);
        }
    }
    if let Some((_, devs)) = user.iter_mut().find(|(k, _)| k == "-device") {
        if !devs.iter().any(|d| d.contains(&m.net_device)) {
            devs.push(net_device);
        }
    }

    let mut out = Vec::new();
    let mut emit = |key: &str, values: &[String]| {
        if values.is_empty() {
            out.push(key.to_string());
        }
        for v in values {
            out.push(key.to_string());
            out.push(v.clone());
        }
    };
    for (key, values) in &defaults {
        match user.iter().find(|(k, _)| k == key) {
            Some((_, v)) => emit(key, v),
            None => {
                if !values.is_empty() {
                    emit(key, values)
                }
            }
        }
    }
    for (key, values) in &user {
        if !defaults.iter().any(|(k, _)| k == key) {
            emit(key, values);
        }
    }
    if i.incoming {
        out.extend(["-S", "-incoming", "defer"].map(String::from));
    }
    Ok(out)
}

/// The UEFI firmware shipped by Debian's `ovmf` package: code and the
/// variable store template.
pub(crate) fn find_ovmf() -> Option<(PathBuf, PathBuf)> {
    [
        (
            "/usr/share/OVMF/OVMF_CODE_4M.fd",
            "/usr/share/OVMF/OVMF_VARS_4M.fd",
        ),
        (
            "/usr/share/OVMF/OVMF_CODE.fd",
            "/usr/share/OVMF/OVMF_VARS.fd",
        ),
        (
            "/usr/share/edk2/ovmf/OVMF_CODE.fd",
            "/usr/share/edk2/ovmf/OVMF_VARS.fd",
        ),
    ]
    .into_iter()
    .map(|(c, v)| (PathBuf::from(c), PathBuf::from(v)))
    .find(|(c, v)| c.is_file() && v.is_file())
}

/// A random 8-character VNC password (VNC uses at most 8).
fn generate_password() -> Result<Secret<String>, String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .map_err(|e| format!("cannot read `/dev/urandom` for a VNC password: {e}"))?;
    Ok(Secret::new(
        bytes
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
            .collect(),
    ))
}

/// Writes `text` to a new file only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

/// See the module docs.
pub struct StepRun {
    config: Arc<Config>,
    driver: Arc<dyn Driver>,
}

impl StepRun {
    /// The step for `config`.
    pub fn new(config: Arc<Config>, driver: Arc<dyn Driver>) -> Self {
        StepRun { config, driver }
    }
}

#[async_trait]
impl Step<QemuState> for StepRun {
    fn name(&self) -> &'static str {
        "StepRun"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut QemuState,
    ) -> Result<StepAction, StepError> {
        let c = &self.config;
        let tmp = state
            .temp_dir
            .clone()
            .ok_or_else(|| StepError::msg("internal error: no temporary directory"))?;
        let binary = &c.machine.qemu_binary;
        let accelerator = match c.machine.accelerator {
            Accelerator::Named(a) => Some(a.to_string()),
            Accelerator::None => None,
            Accelerator::Auto => {
                if self.driver.kvm_usable(binary).await {
                    Some("kvm".into())
                } else {
                    cx.ui
                        .message("KVM is not usable here: using TCG (software emulation)");
                    Some("tcg".into())
                }
            }
        };
        state.accelerator = accelerator.clone();
        let efi = match &c.machine.firmware {
            Firmware::Efi(e) => {
                let (code, vars_template) = match (&e.code, &e.vars) {
                    (Some(code), Some(vars)) => (code.clone(), vars.clone()),
                    _ => find_ovmf().ok_or_else(|| {
                        StepError::msg("`efi_boot` needs OVMF (install Debian's `ovmf` package)")
                    })?,
                };
                for p in [&code, &vars_template] {
                    if !p.is_file() {
                        return Err(StepError::msg(format!(
                            "UEFI firmware `{}` does not exist",
                            p.display()
                        )));
                    }
                }
                // With `efi_drop_efivars` the store lives in the temporary
                // directory, out of the artifact.
                let vars = if e.drop_vars {
                    tmp.join("efivars.fd")
                } else {
                    c.output_directory.join("efivars.fd")
                };
                // A restored VM gets the store it was saved with.
                let vars_source = match &state.restore {
                    Some(r) => r.dir.join(r.data.efivars.as_deref().ok_or_else(|| {
                        StepError::msg("the checkpoint has no UEFI variable store")
                    })?),
                    None => vars_template,
                };
                tokio::fs::copy(&vars_source, &vars).await.map_err(|e| {
                    StepError::msg(format!(
                        "cannot copy `{}` to `{}`: {e}",
                        vars_source.display(),
                        vars.display()
                    ))
                })?;
                state.efi_vars = Some(vars.clone());
                Some((code, vars))
            }
            _ => None,
        };
        let display = match &c.machine.display {
            Display::Headless => c.vnc.is_none().then(|| "none".to_string()),
            Display::QemuDefault => None,
            Display::Window(d) => {
                let has_screen = std::env::var_os("DISPLAY").is_some()
                    || std::env::var_os("WAYLAND_DISPLAY").is_some();
                if d == "gtk" && !has_screen {
                    cx.ui.message("There is no display here ($DISPLAY is unset): running headless, as if `headless` were true");
                    c.vnc.is_none().then(|| "none".to_string())
                } else {
                    Some(d.clone())
                }
            }
        };
        let guest_port = match &c.communicator {
            CommunicatorConfig::Ssh(s) => Some(s.port),
            CommunicatorConfig::None => None,
        };
        let qmp_socket = c
            .qmp_socket_path
            .clone()
            .unwrap_or_else(|| tmp.join("qmp.sock"));
        let inputs = RunInputs {
            disk: state
                .disk_path
                .clone()
                .ok_or_else(|| StepError::msg("internal error: no disk"))?,
            additional_disks: state.additional_disks.clone(),
            tpm_socket: state.vtpm_socket.clone(),
            iso: match c.source.kind {
                SourceKind::Iso => state.source_path.clone(),
                SourceKind::DiskImage { .. } => None,
            },
            cd: state.cd_path.clone(),
            floppy: state.floppy_path.clone(),
            forward: state.comm_host_port.zip(guest_port),
            vnc_port: state.vnc_port,
            qmp_socket: qmp_socket.clone(),
            serial_log: tmp.join("serial.log"),
            accelerator,
            efi,
            display,
            http_ip: "10.0.2.2".into(),
            http_port: state.http_port.unwrap_or(0),
            incoming: state.restore.is_some(),
        };
        let args = command_args(c, &inputs).map_err(StepError::msg)?;
        let log = tmp.join("qemu.log");
        state.serial_log = Some(inputs.serial_log.clone());
        state.qemu_log = Some(log.clone());
        // Let QEMU take the ports we held.
        state.port_holds.clear();
        let _ = std::fs::remove_file(&qmp_socket);
        cx.ui.say(match (&state.restore, &c.source.kind) {
            (Some(_), _) => "Starting VM, to be restored from the checkpoint",
            (None, SourceKind::Iso) => "Starting VM, booting from CD-ROM",
            (None, SourceKind::DiskImage { .. }) => "Starting VM, booting disk image",
        });
        cx.ui.message(&format!("{binary} {}", args.join(" ")));
        let vm = self
            .driver
            .start_vm(binary, &args, &log)
            .await
            .map_err(|e| StepError::msg(format!("cannot start qemu: {e}")))?;
        let mut exited = vm.exited.clone();
        state.vm = Some(vm);
        let vnc_password = match c.vnc.as_ref().and_then(|v| v.password.as_ref()) {
            Some(VncPassword::Given(p)) => {
                Some((p.clone(), "the password in `vnc_password`".to_string()))
            }
            Some(VncPassword::Generated) => {
                // Never printed: written where only this user can read it.
                let p = generate_password().map_err(StepError::msg)?;
                let file = tmp.join("vnc-password");
                write_private(&file, p.expose()).map_err(StepError::msg)?;
                Some((p, format!("the password in `{}`", file.display())))
            }
            None => None,
        };
        if let (Some(vnc), Some(port)) = (&c.vnc, state.vnc_port) {
            match &vnc_password {
                Some((_, from)) => cx.ui.message(&format!(
                    "The VM will be run headless, without a GUI. If you want to\nview the screen of the VM, connect via VNC to vnc://{}:{port}\nwith {from}",
                    vnc.bind_address
                )),
                None => cx.ui.message(&format!(
                    "The VM will be run headless, without a GUI. If you want to\nview the screen of the VM, connect via VNC without a password to\nvnc://{}:{port}",
                    vnc.bind_address
                )),
            }
        }
        let qmp = tokio::select! {
            q = Qmp::connect(&qmp_socket, Duration::from_secs(30)) => q.map_err(|e| StepError::msg(format!("cannot watch the VM: {e}")))?,
            _ = exited.wait_for(|e| e.is_some()) => {
                let exit = state.vm.as_ref().and_then(|v| v.exit()).unwrap_or(crate::driver::VmExit { status: "unknown".into(), success: false });
                return Err(StepError::msg(vm_died(state, &exit)));
            }
        };
        if let Some((p, _)) = vnc_password {
            qmp.execute(
                "set_password",
                Some(json!({"protocol": "vnc", "password": p.expose()})),
            )
            .await
            .map_err(|e| StepError::msg(format!("cannot set the VNC password: {e}")))?;
            state.vnc_password = Some(p);
        }
        state.qmp = Some(Arc::new(qmp));
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut QemuState) {
        state.port_holds.clear();
        let qmp = state.qmp.take();
        let Some(vm) = state.vm.take() else {
            return;
        };
        if vm.exit().is_none() {
            if let Some(q) = &qmp {
                let _ = tokio::time::timeout(Duration::from_secs(2), q.quit()).await;
            }
            if tokio::time::timeout(Duration::from_secs(3), vm.wait())
                .await
                .is_err()
            {
                vm.kill();
                if tokio::time::timeout(Duration::from_secs(10), vm.wait())
                    .await
                    .is_err()
                {
                    cx.ui.error(&format!(
                        "qemu (pid {}) did not stop after SIGKILL",
                        vm.pid.map(|p| p.to_string()).unwrap_or_default()
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::config_with;

    fn inputs() -> RunInputs {
        RunInputs {
            disk: "out/vm".into(),
            iso: Some("x.iso".into()),
            forward: Some((3333, 22)),
            vnc_port: Some(5901),
            qmp_socket: "/t/qmp.sock".into(),
            serial_log: "/t/serial.log".into(),
            accelerator: Some("tcg".into()),
            http_ip: "10.0.2.2".into(),
            http_port: 8080,
            ..Default::default()
        }
    }

    #[test]
    fn packer_defaults_on_the_command_line() {
        let c = config_with(
            serde_json::json!({"vm_name": "vm", "cpus": 2, "headless": true}),
            false,
        );
        let a = command_args(&c, &inputs()).unwrap().join(" ");
        assert_eq!(
            a,
            "-name vm -machine type=pc,accel=tcg -netdev user,id=user.0,hostfwd=tcp::3333-:22 \
             -device virtio-net,netdev=user.0 -drive file=out/vm,if=virtio,cache=writeback,discard=ignore,format=qcow2 \
             -cdrom x.iso -boot once=d -m 512M -smp cpus=2,sockets=2 -vnc 127.0.0.1:1 \
             -qmp unix:/t/qmp.sock,server=on,wait=off -serial file:/t/serial.log"
        );
    }

    #[test]
    fn qemuargs_override_switch_by_switch() {
        let c = config_with(
            serde_json::json!({"qemuargs": [["-m", "1024M"], ["-device", "e1000,netdev=user.0"], ["-device", "virtio-rng-pci"],
                ["-no-reboot"], ["-smbios", "type=1,serial=ds=nocloud-net;s=http://", "{{ .HTTPIP }}:{{ .HTTPPort }}/"]]}),
            false,
        );
        let a = command_args(&c, &inputs()).unwrap().join(" ");
        assert!(a.contains("-m 1024M") && !a.contains("512M"), "{a}");
        // The user's devices replace the defaults; the net device is added
        // back because none of them is `virtio-net`.
        assert!(a.contains("-device e1000,netdev=user.0 -device virtio-rng-pci -device virtio-net,netdev=user.0"), "{a}");
        assert!(
            a.ends_with("-no-reboot -smbios type=1,serial=ds=nocloud-net;s=http://10.0.2.2:8080/"),
            "{a}"
        );
    }

    #[test]
    fn machine_options_on_the_command_line() {
        let c = config_with(
            serde_json::json!({"headless": true, "cpu_model": "host", "vga": "virtio",
                "cpus": 8, "sockets": 1, "cores": 2, "threads": 2,
                "disk_additional_size": ["1G"], "disk_detect_zeroes": "unmap",
                "firmware": "/fw/bios.bin", "use_pflash": true,
                "vtpm": true, "vnc_use_password": true}),
            false,
        );
        let mut i = inputs();
        i.additional_disks = vec!["out/vm-1".into()];
        i.tpm_socket = Some("/t/vtpm/swtpm.sock".into());
        let a = command_args(&c, &i).unwrap().join(" ");
        for want in [
            // cpus is capped at sockets*cores*threads, as in Packer.
            "-smp cpus=4,sockets=1,cores=2,threads=2 ",
            "-cpu host ",
            "-vga virtio ",
            "-drive file=out/vm,if=virtio,cache=writeback,discard=ignore,format=qcow2,detect-zeroes=unmap ",
            "-drive file=out/vm-1,if=virtio,cache=writeback,discard=ignore,format=qcow2,detect-zeroes=unmap ",
            "-drive file=/fw/bios.bin,if=pflash,format=raw,readonly=on ",
            "-chardev socket,id=vtpm,path=/t/vtpm/swtpm.sock ",
            "-tpmdev emulator,id=tpm0,chardev=vtpm ",
            "-device tpm-tis,tpmdev=tpm0 ",
            "-vnc 127.0.0.1:1,password=on ",
        ] {
            assert!(a.contains(want), "missing {want:?} in:\n{a}");
        }
        assert!(!a.contains("-bios"), "{a}");
    }

    #[test]
    fn smp_fewer_cpus_than_the_topology_sets_maxcpus() {
        let c = config_with(
            serde_json::json!({"cpus": 2, "sockets": 2, "cores": 2}),
            false,
        );
        assert_eq!(
            c.machine.smp.arg().as_deref(),
            Some("cpus=2,sockets=2,cores=2,maxcpus=4")
        );
        let c = config_with(serde_json::json!({"cores": 4}), false);
        assert_eq!(c.machine.smp.arg().as_deref(), Some("cpus=4,cores=4"));
        let c = config_with(serde_json::json!({}), false);
        assert_eq!(c.machine.smp.arg(), None);
    }

    #[test]
    fn efi_and_extra_disks_with_virtio_scsi() {
        let c = config_with(
            serde_json::json!({"disk_interface": "virtio-scsi", "efi_boot": true, "firmware": ""}),
            false,
        );
        let mut i = inputs();
        i.additional_disks = vec!["out/vm-1".into()];
        i.efi = Some(("/c.fd".into(), "out/efivars.fd".into()));
        let a = command_args(&c, &i).unwrap().join(" ");
        assert!(
            a.contains(
                "-device virtio-net,netdev=user.0 -device virtio-scsi-pci,id=scsi0 \
                -device scsi-hd,bus=scsi0.0,drive=drive0 -device scsi-hd,bus=scsi0.0,drive=drive1 \
                -drive if=none,file=out/vm,id=drive0,cache=writeback,discard=ignore,format=qcow2 \
                -drive if=none,file=out/vm-1,id=drive1,cache=writeback,discard=ignore,format=qcow2 \
                -drive if=pflash,unit=0,format=raw,readonly=on,file=/c.fd \
                -drive if=pflash,unit=1,format=raw,file=out/efivars.fd"
            ),
            "{a}"
        );
    }

    #[test]
    fn restored_vms_wait_paused_for_their_state() {
        let c = config_with(serde_json::json!({"qemuargs": [["-no-reboot"]]}), false);
        let mut i = inputs();
        let plain = command_args(&c, &i).unwrap();
        assert!(!plain.iter().any(|a| a == "-incoming"), "{plain:?}");
        i.incoming = true;
        let restored = command_args(&c, &i).unwrap();
        assert_eq!(&restored[..plain.len()], &plain[..]);
        assert_eq!(&restored[plain.len()..], ["-S", "-incoming", "defer"]);
    }

    #[test]
    fn generated_vnc_passwords_are_private() {
        let p = generate_password().unwrap();
        assert_eq!(p.expose().len(), 8);
        assert_ne!(p.expose(), generate_password().unwrap().expose());
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("pw");
        write_private(&f, p.expose()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
