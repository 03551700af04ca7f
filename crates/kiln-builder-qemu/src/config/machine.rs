//! The machine section: what QEMU is started as: the hardware (`hardware`,
//! `cpu`), `machine_type`, `net_device` and the network, `cpu_model`,
//! `vga`, `cdrom_interface`, the display, `qemu_binary`, the firmware and
//! `qemuargs` (kept unrendered; each entry must start with a switch and
//! parse as a template). Pure; holds nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::interpolate;

use super::check::{opt, or};
use super::cpu::Smp;
use super::display::{self, Display};
use super::firmware::{self, Firmware};
use super::hardware::{self, Accelerator, Tpm};
use super::network::{self, Network};
use super::raw::Fields;

/// The machine.
#[derive(Debug, Clone)]
pub struct Machine {
    /// `accelerator`.
    pub accelerator: Accelerator,
    /// `cpus` (1), `sockets`, `cores`, `threads`.
    pub smp: Smp,
    /// `cpu_model`: `-cpu VALUE`.
    pub cpu_model: Option<String>,
    /// `vga`: `-vga VALUE`.
    pub vga: Option<String>,
    /// `vtpm`.
    pub tpm: Option<Tpm>,
    /// `memory` in MiB (512).
    pub memory_mib: u32,
    /// `machine_type` (`pc`).
    pub machine_type: String,
    /// `net_device` (`virtio-net`).
    pub net_device: String,
    /// User networking or a bridge.
    pub network: Network,
    /// `cdrom_interface` (empty: `-cdrom`).
    pub cdrom_interface: String,
    /// `headless` / `display`.
    pub display: Display,
    /// `qemu_binary` (`qemu-system-x86_64`).
    pub qemu_binary: String,
    /// `qemuargs`, unrendered.
    pub qemuargs: Vec<Vec<String>>,
    /// `firmware` / `efi_boot`.
    pub firmware: Firmware,
}

/// Validates the machine keys.
pub(super) fn prepare(f: &Fields, errors: &mut ConfigErrors) -> Machine {
    let hw = hardware::prepare(f, errors);
    let firmware = firmware::prepare(f, errors);
    for (i, arg) in f.qemuargs.iter().enumerate() {
        if arg.is_empty() {
            errors.push(ConfigError::at(
                format!("qemuargs[{i}]"),
                "each `qemuargs` entry must start with a switch such as `-m`",
            ));
            continue;
        }
        for (j, part) in arg.iter().enumerate() {
            if let Err(e) = interpolate::check_syntax(part) {
                errors.push(ConfigError::at(
                    format!("qemuargs[{i}][{j}]"),
                    e.to_string(),
                ));
            }
        }
    }
    Machine {
        accelerator: hw.accelerator,
        smp: hw.smp,
        cpu_model: opt(&f.cpu_model),
        vga: opt(&f.vga),
        tpm: hw.tpm,
        memory_mib: hw.memory_mib,
        machine_type: or(&f.machine_type, "pc"),
        net_device: or(&f.net_device, "virtio-net"),
        network: network::kind(f),
        cdrom_interface: f.cdrom_interface.clone(),
        display: display::display(f),
        qemu_binary: or(&f.qemu_binary, "qemu-system-x86_64"),
        qemuargs: f.qemuargs.clone(),
        firmware,
    }
}
