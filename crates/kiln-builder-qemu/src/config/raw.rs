//! The qemu keys exactly as a template writes them, before any
//! validation: one flat struct that the decoder fills (unknown keys are
//! reported by it, with the communicator's keys accepted). The sections
//! (`source`, `disk`, `machine`, …) read it. Pure; holds nothing.

use std::collections::BTreeMap;

use kiln_sdk::secret::Secret;
use serde::Deserialize;

use super::disk::QemuImgArgs;

/// The keys exactly as a template writes them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Fields {
    // Source.
    pub(super) iso_url: String,
    pub(super) iso_urls: Vec<String>,
    pub(super) iso_checksum: String,
    pub(super) iso_target_path: String,
    pub(super) iso_target_extension: String,
    pub(super) iso_skip_cache: bool,
    pub(super) disk_image: bool,
    pub(super) use_backing_file: bool,
    // Output.
    pub(super) output_directory: String,
    pub(super) vm_name: String,
    pub(super) format: String,
    // Disk.
    pub(super) disk_size: String,
    pub(super) disk_interface: String,
    pub(super) disk_cache: String,
    pub(super) disk_discard: String,
    pub(super) disk_detect_zeroes: String,
    pub(super) disk_compression: bool,
    pub(super) skip_compaction: bool,
    pub(super) skip_resize_disk: bool,
    pub(super) disk_additional_size: Vec<String>,
    pub(super) qemu_img_args: QemuImgArgs,
    // Hardware and machine.
    pub(super) accelerator: String,
    pub(super) cpus: Option<u32>,
    pub(super) sockets: Option<u32>,
    pub(super) cores: Option<u32>,
    pub(super) threads: Option<u32>,
    pub(super) cpu_model: String,
    pub(super) vga: String,
    pub(super) memory: Option<u32>,
    pub(super) machine_type: String,
    pub(super) net_device: String,
    pub(super) net_bridge: String,
    pub(super) cdrom_interface: String,
    pub(super) headless: bool,
    pub(super) display: String,
    pub(super) use_default_display: bool,
    pub(super) qemu_binary: String,
    pub(super) qemuargs: Vec<Vec<String>>,
    pub(super) firmware: String,
    pub(super) use_pflash: bool,
    pub(super) efi_boot: bool,
    pub(super) efi_firmware_code: String,
    pub(super) efi_firmware_vars: String,
    pub(super) efi_drop_efivars: bool,
    pub(super) vtpm: bool,
    pub(super) use_tpm1: bool,
    pub(super) tpm_device_type: String,
    // Network and ports.
    pub(super) host_port_min: Option<u16>,
    pub(super) host_port_max: Option<u16>,
    pub(super) skip_nat_mapping: bool,
    // VNC.
    pub(super) vnc_bind_address: String,
    pub(super) vnc_port_min: Option<u16>,
    pub(super) vnc_port_max: Option<u16>,
    pub(super) disable_vnc: bool,
    pub(super) vnc_use_password: bool,
    pub(super) vnc_password: Option<Secret<String>>,
    // Boot.
    pub(super) boot_wait: String,
    pub(super) boot_command: Vec<String>,
    pub(super) boot_steps: Vec<Vec<String>>,
    pub(super) boot_key_interval: String,
    pub(super) boot_keygroup_interval: String,
    // HTTP.
    pub(super) http_directory: String,
    pub(super) http_content: BTreeMap<String, String>,
    pub(super) http_port_min: Option<u16>,
    pub(super) http_port_max: Option<u16>,
    pub(super) http_bind_address: String,
    // CD and floppy.
    pub(super) cd_files: Vec<String>,
    pub(super) cd_content: BTreeMap<String, String>,
    pub(super) cd_label: String,
    pub(super) floppy_files: Vec<String>,
    pub(super) floppy_dirs: Vec<String>,
    pub(super) floppy_label: String,
    pub(super) floppy_content: BTreeMap<String, String>,
    // Shutdown and the monitor.
    pub(super) shutdown_command: String,
    pub(super) shutdown_timeout: String,
    pub(super) qmp_enable: bool,
    pub(super) qmp_socket_path: String,
    /// Deprecated in Packer and ignored there too.
    pub(super) run_once: bool,
}
