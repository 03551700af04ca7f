//! The qemu builder's configuration: Packer 1.6.6's keys and defaults,
//! decoded (with the communicator's keys, through kiln-ssh) and validated
//! by a pure [`prepare`] that collects every error, into a typed
//! [`Config`]: durations as `Duration`, sizes in MiB, enums instead of
//! flag pairs. `boot_command` and `qemuargs` stay unrendered: they see
//! `{{ .HTTPIP }}`, `{{ .HTTPPort }}`… only at run time. Its only I/O is
//! what Packer 1.6.6 also does at validate: checking that `floppy_files`,
//! `floppy_dirs` and `cd_files` exist and reading a local checksum file.
//! Holds no resources; nothing to clean up.
//!
//! One file per section, each with its own `prepare` that pushes every
//! error it finds: `source`, `output`, `disk` (sizes in `sizes`),
//! `machine` (with `hardware`, `cpu`, `firmware`), `network`, `display`
//! (VNC), `boot`, `http`, `media` (floppy and CD) and `shutdown` (with the
//! QMP monitor). This module decodes the keys once (`raw`; unknown keys
//! are rejected there), runs every section, and returns all their errors
//! together or the assembled [`Config`].

mod boot;
mod check;
mod cpu;
mod disk;
mod display;
mod firmware;
mod hardware;
mod http;
mod machine;
mod media;
mod network;
mod output;
mod raw;
mod shutdown;
mod sizes;
mod source;
#[cfg(test)]
mod tests;

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_sdk::interpolate::Context;
use kiln_sdk::PrepareContext;
use kiln_ssh::{decode_with_communicator, CommunicatorConfig};

pub use boot::{Boot, BootStep};
pub use cpu::Smp;
pub use disk::{Compaction, Disk, QemuImgArgs};
pub use display::{Display, Vnc, VncPassword};
pub use firmware::{Efi, Firmware};
pub use hardware::{Accelerator, Tpm, TpmVersion};
pub use http::{Http, HttpSource};
pub use machine::Machine;
pub use media::{Cd, Floppy};
pub use network::Network;
pub use output::DiskFormat;
pub use sizes::{parse_byte_size, parse_disk_size};
pub use source::{Source, SourceKind};

use raw::Fields;

/// Keys rendered at run time, not while preparing.
const RUNTIME_TEMPLATES: &[&str] = &["boot_command", "boot_steps", "qemuargs"];

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The source image.
    pub source: Source,
    /// `output_directory` (`output-BUILDNAME`).
    pub output_directory: PathBuf,
    /// `vm_name` (`packer-BUILDNAME`).
    pub vm_name: String,
    /// `format`.
    pub format: DiskFormat,
    /// The disk.
    pub disk: Disk,
    /// The machine.
    pub machine: Machine,
    /// `host_port_min`..=`host_port_max` (2222–4444).
    pub host_ports: RangeInclusive<u16>,
    /// VNC, unless `disable_vnc`.
    pub vnc: Option<Vnc>,
    /// Booting.
    pub boot: Boot,
    /// The HTTP server, when something is to be served.
    pub http: Option<Http>,
    /// The extra CD.
    pub cd: Option<Cd>,
    /// The floppy.
    pub floppy: Option<Floppy>,
    /// `shutdown_command`.
    pub shutdown_command: Option<String>,
    /// `shutdown_timeout` (5m).
    pub shutdown_timeout: Duration,
    /// `qmp_socket_path`, or `OUTPUT_DIRECTORY/VM_NAME.monitor` with
    /// `qmp_enable` (QMP is always on: kiln watches the VM through it; by
    /// default its socket is in the temporary directory).
    pub qmp_socket_path: Option<PathBuf>,
    /// The communicator.
    pub communicator: CommunicatorConfig,
    /// For rendering `boot_command` and `qemuargs` at run time.
    pub interpolation: Context,
    /// `-force`.
    pub force: bool,
}

/// Decodes and validates; collects every error. Its only I/O is the
/// validate-time file checks Packer also makes (see the module docs).
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    let (f, communicator) = decode_with_communicator::<Fields>(raw, cx, RUNTIME_TEMPLATES)?;
    let mut errors = ConfigErrors::new();
    let source = source::prepare(&f, &mut errors);
    let output = output::prepare(&f, cx, &mut errors);
    let disk = disk::prepare(&f, &mut errors);
    let machine = machine::prepare(&f, &mut errors);
    let host_ports = network::prepare(&f, &mut errors);
    let vnc = display::prepare(&f, cx, &mut errors);
    let boot = boot::prepare(&f, &mut errors);
    let http = http::prepare(&f, &mut errors);
    let (floppy, cd) = media::prepare(&f, &mut errors);
    let shutdown = shutdown::prepare(
        &f,
        &communicator,
        (&output.directory, &output.vm_name),
        &mut errors,
    );
    let _ = f.run_once;

    errors.locate(raw).into_result(Config {
        source,
        output_directory: output.directory,
        vm_name: output.vm_name,
        format: output.format,
        disk,
        machine,
        host_ports,
        vnc,
        boot,
        http,
        cd,
        floppy,
        shutdown_command: shutdown.command,
        shutdown_timeout: shutdown.timeout,
        qmp_socket_path: shutdown.qmp_socket_path,
        communicator,
        interpolation: cx.interpolation.clone(),
        force: cx.force,
    })
}
