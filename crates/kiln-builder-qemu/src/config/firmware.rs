//! The firmware section: QEMU's default BIOS, `firmware` (as `-bios` or,
//! with `use_pflash`, a read-only pflash drive), or UEFI (`efi_boot`,
//! `efi_firmware_code`, `efi_firmware_vars`, `efi_drop_efivars`). Pure;
//! holds nothing.

use std::path::PathBuf;

use kiln_sdk::config::{ConfigError, ConfigErrors};

use super::check::opt;
use super::raw::Fields;

/// Firmware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firmware {
    /// QEMU's default BIOS.
    Default,
    /// `firmware`: `-bios PATH`.
    Bios(PathBuf),
    /// `firmware` with `use_pflash`: a read-only pflash drive.
    Pflash(PathBuf),
    /// `efi_boot` (or `efi_firmware_code` / `efi_firmware_vars`): UEFI
    /// code on a read-only pflash drive, and a copy of the variable store
    /// on a writable one.
    Efi(Efi),
}

/// UEFI firmware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Efi {
    /// `efi_firmware_code`; `None`: Debian's OVMF, found at run time.
    pub code: Option<PathBuf>,
    /// `efi_firmware_vars`; `None`: the store matching the OVMF code.
    pub vars: Option<PathBuf>,
    /// `efi_drop_efivars`: keep `efivars.fd` out of the output directory.
    pub drop_vars: bool,
}

/// Validates the firmware keys.
pub(super) fn prepare(f: &Fields, errors: &mut ConfigErrors) -> Firmware {
    // Setting either EFI file implies `efi_boot`, as in Packer.
    let efi = f.efi_boot || !f.efi_firmware_code.is_empty() || !f.efi_firmware_vars.is_empty();
    let firmware = match (f.firmware.is_empty(), efi) {
        (false, true) => {
            errors.push(ConfigError::at(
                "firmware",
                "only one of `firmware` or `efi_boot` (`efi_firmware_code`, `efi_firmware_vars`) may be specified",
            ));
            Firmware::Default
        }
        (false, false) if f.use_pflash => Firmware::Pflash(PathBuf::from(&f.firmware)),
        (false, false) => Firmware::Bios(PathBuf::from(&f.firmware)),
        (true, true) => {
            if f.efi_firmware_code.is_empty() != f.efi_firmware_vars.is_empty() {
                let (set, unset) = if f.efi_firmware_code.is_empty() {
                    ("efi_firmware_vars", "efi_firmware_code")
                } else {
                    ("efi_firmware_code", "efi_firmware_vars")
                };
                errors.push(ConfigError::at(
                    unset,
                    format!("`{set}` needs `{unset}` too: the code and variable store must match"),
                ));
            }
            Firmware::Efi(Efi {
                code: opt(&f.efi_firmware_code).map(PathBuf::from),
                vars: opt(&f.efi_firmware_vars).map(PathBuf::from),
                drop_vars: f.efi_drop_efivars,
            })
        }
        (true, false) => {
            if f.use_pflash {
                errors.push(ConfigError::at(
                    "use_pflash",
                    "`use_pflash` needs `firmware`",
                ));
            }
            Firmware::Default
        }
    };
    if f.efi_drop_efivars && !efi {
        errors.push(ConfigError::at(
            "efi_drop_efivars",
            "`efi_drop_efivars` has no effect without `efi_boot`",
        ));
    }
    firmware
}
