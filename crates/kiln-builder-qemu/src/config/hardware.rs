//! The hardware section: `accelerator`, the vCPUs (in `cpu`), `memory`
//! (MiB, 512) and the emulated TPM (`vtpm`, `use_tpm1`,
//! `tpm_device_type`). Pure; holds nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};

use super::check::or;
use super::raw::Fields;

/// `accelerator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accelerator {
    /// kvm when /dev/kvm really runs a guest, else tcg (kiln's default;
    /// Packer picks kvm whenever /dev/kvm exists).
    Auto,
    /// A named accelerator (`kvm`, `tcg`, `xen`, `hax`, `hvf`, `whpx`).
    Named(&'static str),
    /// No `accel=` at all.
    None,
}

/// The TPM spec version (`use_tpm1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpmVersion {
    /// TPM 2.0 (the default).
    V2,
    /// TPM 1.2.
    V1_2,
}

/// `vtpm`: a TPM emulated by swtpm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tpm {
    /// `use_tpm1`.
    pub version: TpmVersion,
    /// `tpm_device_type` (`tpm-tis`).
    pub device: String,
}

/// The hardware keys, validated.
pub(super) struct Hardware {
    pub(super) accelerator: Accelerator,
    pub(super) smp: super::cpu::Smp,
    pub(super) tpm: Option<Tpm>,
    pub(super) memory_mib: u32,
}

const ACCELERATORS: &[&str] = &["kvm", "tcg", "xen", "hax", "hvf", "whpx"];

/// Validates the hardware keys.
pub(super) fn prepare(f: &Fields, errors: &mut ConfigErrors) -> Hardware {
    let accelerator = match f.accelerator.as_str() {
        "" | "auto" => Accelerator::Auto,
        "none" => Accelerator::None,
        other => match ACCELERATORS.iter().find(|a| **a == other) {
            Some(a) => Accelerator::Named(a),
            None => {
                errors.push(ConfigError::at(
                    "accelerator",
                    format!("`accelerator` must be one of `auto`, `kvm`, `tcg`, `xen`, `hax`, `hvf`, `whpx` or `none`, found `{other}`"),
                ));
                Accelerator::Auto
            }
        },
    };
    let smp = super::cpu::prepare(f, errors);
    let tpm = if f.vtpm {
        Some(Tpm {
            version: if f.use_tpm1 {
                TpmVersion::V1_2
            } else {
                TpmVersion::V2
            },
            device: or(&f.tpm_device_type, "tpm-tis"),
        })
    } else {
        let set = [
            ("use_tpm1", f.use_tpm1),
            ("tpm_device_type", !f.tpm_device_type.is_empty()),
        ];
        for (key, _) in set.into_iter().filter(|(_, set)| *set) {
            errors.push(ConfigError::at(
                key,
                format!("`{key}` has no effect without `vtpm: true`"),
            ));
        }
        None
    };
    let memory_mib = f.memory.unwrap_or(512);
    if memory_mib < 10 {
        errors.push(ConfigError::at(
            "memory",
            format!("`memory` is in MiB and must be at least 10, found `{memory_mib}`"),
        ));
    }
    Hardware {
        accelerator,
        smp,
        tpm,
        memory_mib,
    }
}
