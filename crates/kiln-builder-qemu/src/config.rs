//! The qemu builder's configuration: Packer 1.6.6's keys and defaults,
//! decoded (with the communicator's keys, through kiln-ssh) and validated
//! by a pure [`prepare`] that collects every error, into a typed
//! [`Config`]: durations as `Duration`, sizes in MiB, enums instead of
//! flag pairs. `boot_command` and `qemuargs` stay unrendered: they see
//! `{{ .HTTPIP }}`, `{{ .HTTPPort }}`… only at run time. Its only I/O is
//! what Packer 1.6.6 also does at validate: checking that `floppy_files`,
//! `floppy_dirs` and `cd_files` exist and reading a local checksum file.
//! Holds no resources; nothing to clean up.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use kiln_sdk::config::{ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::duration::parse_go_duration;
use kiln_sdk::interpolate::{self, Context};
use kiln_sdk::secret::Secret;
use kiln_sdk::PrepareContext;
use kiln_ssh::{decode_with_communicator, CommunicatorConfig};
use serde::Deserialize;

use crate::bootcommand;
use crate::checksum::Checksum;

/// The keys exactly as a template writes them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    iso_url: String,
    iso_urls: Vec<String>,
    iso_checksum: String,
    iso_target_path: String,
    iso_target_extension: String,
    iso_skip_cache: bool,
    disk_image: bool,
    use_backing_file: bool,
    output_directory: String,
    vm_name: String,
    format: String,
    disk_size: String,
    disk_interface: String,
    disk_cache: String,
    disk_discard: String,
    disk_detect_zeroes: String,
    disk_compression: bool,
    skip_compaction: bool,
    skip_resize_disk: bool,
    disk_additional_size: Vec<String>,
    qemu_img_args: QemuImgArgs,
    accelerator: String,
    cpus: Option<u32>,
    sockets: Option<u32>,
    cores: Option<u32>,
    threads: Option<u32>,
    cpu_model: String,
    vga: String,
    memory: Option<u32>,
    machine_type: String,
    net_device: String,
    net_bridge: String,
    cdrom_interface: String,
    headless: bool,
    display: String,
    use_default_display: bool,
    qemu_binary: String,
    qemuargs: Vec<Vec<String>>,
    firmware: String,
    use_pflash: bool,
    efi_boot: bool,
    efi_firmware_code: String,
    efi_firmware_vars: String,
    efi_drop_efivars: bool,
    vtpm: bool,
    use_tpm1: bool,
    tpm_device_type: String,
    host_port_min: Option<u16>,
    host_port_max: Option<u16>,
    skip_nat_mapping: bool,
    vnc_bind_address: String,
    vnc_port_min: Option<u16>,
    vnc_port_max: Option<u16>,
    disable_vnc: bool,
    vnc_use_password: bool,
    vnc_password: Option<Secret<String>>,
    boot_wait: String,
    boot_command: Vec<String>,
    boot_steps: Vec<Vec<String>>,
    boot_key_interval: String,
    boot_keygroup_interval: String,
    http_directory: String,
    http_content: BTreeMap<String, String>,
    http_port_min: Option<u16>,
    http_port_max: Option<u16>,
    http_bind_address: String,
    cd_files: Vec<String>,
    cd_content: BTreeMap<String, String>,
    cd_label: String,
    floppy_files: Vec<String>,
    floppy_dirs: Vec<String>,
    floppy_label: String,
    floppy_content: BTreeMap<String, String>,
    shutdown_command: String,
    shutdown_timeout: String,
    qmp_enable: bool,
    qmp_socket_path: String,
    /// Deprecated in Packer and ignored there too.
    run_once: bool,
}

/// `qemu_img_args`: extra arguments per `qemu-img` subcommand.
#[derive(Debug, Default, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct QemuImgArgs {
    /// After `convert` (before `-O`).
    pub convert: Vec<String>,
    /// After `create -f FORMAT`.
    pub create: Vec<String>,
    /// After `resize -f FORMAT`.
    pub resize: Vec<String>,
}

/// Keys rendered at run time, not while preparing.
const RUNTIME_TEMPLATES: &[&str] = &["boot_command", "boot_steps", "qemuargs"];

/// What the machine boots from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// An installer ISO on a new blank disk.
    Iso,
    /// A disk image (`disk_image: true`), copied, or used as the backing
    /// file of a qcow2 overlay (`use_backing_file`).
    DiskImage {
        /// `use_backing_file`.
        backing_file: bool,
    },
}

/// The source image.
#[derive(Debug, Clone)]
pub struct Source {
    /// `iso_urls`, or `[iso_url]`: tried in order.
    pub urls: Vec<String>,
    /// `iso_checksum`.
    pub checksum: Checksum,
    /// `iso_target_path`: where a download goes (else the cache).
    pub target_path: Option<PathBuf>,
    /// `iso_target_extension` (`iso`).
    pub target_extension: String,
    /// ISO or disk image.
    pub kind: SourceKind,
    /// `iso_skip_cache`: QEMU reads the URL itself (its curl block
    /// driver); nothing is downloaded and the checksum is not checked.
    pub skip_cache: bool,
}

/// `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFormat {
    /// qcow2 (the default).
    Qcow2,
    /// raw.
    Raw,
}

impl DiskFormat {
    /// The qemu-img spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Qcow2 => "qcow2",
            DiskFormat::Raw => "raw",
        }
    }
}

/// What happens to the disk after the VM stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compaction {
    /// `skip_compaction` (forced by `use_backing_file`).
    Skip,
    /// `qemu-img convert` into a fresh image, compressed or not.
    Convert {
        /// `disk_compression`.
        compress: bool,
    },
}

/// The disk.
#[derive(Debug, Clone)]
pub struct Disk {
    /// `disk_size`, in MiB (40960).
    pub size_mib: u64,
    /// `disk_interface` (`virtio`).
    pub interface: String,
    /// `disk_cache` (`writeback`).
    pub cache: String,
    /// `disk_discard` (`ignore`).
    pub discard: String,
    /// `disk_detect_zeroes` (`off`).
    pub detect_zeroes: String,
    /// `skip_compaction` / `disk_compression`.
    pub compaction: Compaction,
    /// False with `skip_resize_disk`.
    pub resize: bool,
    /// `disk_additional_size`, in bytes: the disks `VM_NAME-1`, `-2`…
    pub additional_bytes: Vec<u64>,
    /// `qemu_img_args`.
    pub img_args: QemuImgArgs,
}

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

/// How the VM's screen is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Display {
    /// `headless`: VNC only.
    Headless,
    /// `-display VALUE` (`display`, else gtk as in Packer).
    Window(String),
    /// `use_default_display`: QEMU's own choice.
    QemuDefault,
}

/// Networking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// QEMU user networking with the communicator port forwarded.
    User {
        /// False with `skip_nat_mapping`.
        forward: bool,
    },
    /// `net_bridge`.
    Bridge(String),
}

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

/// The vCPUs (`cpus`, `sockets`, `cores`, `threads`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smp {
    /// vCPUs present at boot.
    pub cpus: u32,
    /// The topology members the template set.
    pub sockets: Option<u32>,
    /// Cores per socket.
    pub cores: Option<u32>,
    /// Threads per core.
    pub threads: Option<u32>,
}

impl Smp {
    /// The `-smp` value, or `None` for QEMU's default (one vCPU).
    pub fn arg(&self) -> Option<String> {
        let topology = [self.sockets, self.cores, self.threads];
        if topology.iter().all(Option::is_none) {
            // Packer 1.6.6: one socket per vCPU.
            return (self.cpus > 1).then(|| format!("cpus={},sockets={}", self.cpus, self.cpus));
        }
        let mut a = format!("cpus={}", self.cpus);
        for (k, v) in ["sockets", "cores", "threads"].iter().zip(topology) {
            if let Some(v) = v {
                a.push_str(&format!(",{k}={v}"));
            }
        }
        let product: u32 = topology.iter().map(|v| v.unwrap_or(1)).product();
        if self.cpus < product {
            a.push_str(&format!(",maxcpus={product}"));
        }
        Some(a)
    }
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

/// VNC.
#[derive(Debug, Clone)]
pub struct Vnc {
    /// `vnc_bind_address` (`127.0.0.1`).
    pub bind_address: String,
    /// `vnc_port_min`..=`vnc_port_max` (5900–6000).
    pub ports: RangeInclusive<u16>,
    /// `vnc_use_password`.
    pub password: Option<VncPassword>,
}

/// The VNC password.
#[derive(Debug, Clone)]
pub enum VncPassword {
    /// `vnc_password`.
    Given(Secret<String>),
    /// Random, made at run time (as Packer does when `vnc_password` is
    /// empty).
    Generated,
}

/// What the built-in HTTP server serves.
#[derive(Debug, Clone)]
pub enum HttpSource {
    /// `http_directory`.
    Directory(PathBuf),
    /// `http_content`: URL path → content.
    Content(BTreeMap<String, String>),
}

/// The built-in HTTP server.
#[derive(Debug, Clone)]
pub struct Http {
    /// What to serve.
    pub source: HttpSource,
    /// `http_bind_address` (`0.0.0.0`).
    pub bind_address: String,
    /// `http_port_min`..=`http_port_max` (8000–9000).
    pub ports: RangeInclusive<u16>,
}

/// The extra CD (`cd_files` / `cd_content`).
#[derive(Debug, Clone)]
pub struct Cd {
    /// Files and globs.
    pub files: Vec<String>,
    /// Path in the ISO → content.
    pub content: BTreeMap<String, String>,
    /// `cd_label`.
    pub label: String,
}

/// The floppy (`floppy_files` / `floppy_dirs`).
#[derive(Debug, Clone)]
pub struct Floppy {
    /// Files and globs.
    pub files: Vec<String>,
    /// Directories copied whole.
    pub dirs: Vec<String>,
    /// `floppy_label` (`packer`).
    pub label: String,
    /// `floppy_content`: path on the floppy → content.
    pub content: BTreeMap<String, String>,
}

/// Booting.
#[derive(Debug, Clone)]
pub struct Boot {
    /// `boot_wait` (10s when there is a boot command). `None` when the
    /// template does not set it: without a boot command, kiln then does
    /// not wait at all (Packer waits 10s for nothing).
    pub wait: Option<Duration>,
    /// `boot_command` (one step, joined) or `boot_steps`, unrendered.
    pub steps: Vec<BootStep>,
    /// `boot_key_interval` (100ms, or `PACKER_KEY_INTERVAL`).
    pub key_interval: Duration,
    /// `boot_keygroup_interval`: accepted and checked; QMP types keys one
    /// by one, as Packer's VNC driver does, so there are no key groups.
    pub keygroup_interval: Option<Duration>,
}

/// One step of the boot command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootStep {
    /// The keys, unrendered.
    pub command: String,
    /// What it does (`boot_steps`' second element).
    pub description: Option<String>,
}

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

const ACCELERATORS: &[&str] = &["kvm", "tcg", "xen", "hax", "hvf", "whpx"];
const DISK_INTERFACES: &[&str] = &[
    "ide",
    "sata",
    "scsi",
    "sd",
    "mtd",
    "floppy",
    "pflash",
    "virtio",
    "virtio-scsi",
    "none",
];
const DISK_CACHES: &[&str] = &["writethrough", "writeback", "none", "unsafe", "directsync"];
const DISK_DISCARDS: &[&str] = &["unmap", "ignore"];
const DETECT_ZEROES: &[&str] = &["unmap", "on", "off"];

fn one_of(errors: &mut ConfigErrors, key: &str, value: &str, allowed: &[&str]) {
    if !allowed.contains(&value) {
        let list = allowed
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ");
        errors.push(ConfigError::at(
            key,
            format!("`{key}` must be one of {list}, found `{value}`"),
        ));
    }
}

fn duration(errors: &mut ConfigErrors, key: &str, value: &str, default: Duration) -> Duration {
    if value.is_empty() {
        return default;
    }
    match parse_go_duration(value) {
        Ok(d) => d,
        Err(e) => {
            errors.push(ConfigError::at(key, e));
            default
        }
    }
}

fn range(
    errors: &mut ConfigErrors,
    keys: (&str, &str),
    values: (Option<u16>, Option<u16>),
    defaults: (u16, u16),
) -> RangeInclusive<u16> {
    let min = values.0.unwrap_or(defaults.0);
    let max = values.1.unwrap_or(defaults.1);
    if min > max {
        errors.push(ConfigError::at(
            keys.0,
            format!(
                "`{}` ({min}) must be less than `{}` ({max})",
                keys.0, keys.1
            ),
        ));
    }
    min..=max
}

/// Parses `disk_size`: a number of MiB, or a number with a `K`, `M`, `G`
/// or `T` suffix (as `qemu-img` takes it).
pub fn parse_disk_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let bad = || format!("expected a size like `40960M` or `20G`, found `{s}`");
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: f64 = match c.to_ascii_uppercase() {
                'K' => 1.0 / 1024.0,
                'M' => 1.0,
                'G' => 1024.0,
                'T' => 1024.0 * 1024.0,
                _ => return Err(bad()),
            };
            (&t[..i], m)
        }
        _ => (t, 1.0),
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    let mib = (n * mult).ceil();
    if !mib.is_finite() || mib < 1.0 {
        return Err(bad());
    }
    Ok(mib as u64)
}

/// Parses a `disk_additional_size` entry as qemu-img reads it: bytes, or
/// a number with a `k`/`K`, `M`, `G`, `T`, `P` or `E` suffix (powers of
/// 1024; a trailing `b` is ignored).
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let bad = || format!("expected a size like `1G` or `512M`, found `{s}`");
    let t = s.trim();
    let t = t.strip_suffix(['b', 'B']).unwrap_or(t);
    let (num, shift) = match t.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let shift = match c {
                'k' | 'K' => 10,
                'M' | 'm' => 20,
                'G' | 'g' => 30,
                'T' | 't' => 40,
                'P' | 'p' => 50,
                'E' | 'e' => 60,
                _ => return Err(bad()),
            };
            (&t[..t.len() - 1], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = num.trim().parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    n.checked_shl(shift)
        .filter(|v| v >> shift == n)
        .ok_or_else(bad)
}

/// A local `iso_checksum = "file:…"` is read at validate, as Packer 1.6.6
/// does, and must list every source; a remote one is fetched by the build.
fn check_local_checksum_file(sums: &str, urls: &[String], errors: &mut ConfigErrors) {
    let Ok(crate::step_download::Location::Local(path)) = crate::step_download::locate(sums) else {
        return;
    };
    let shown = path.display().to_string();
    if let Some(e) = kiln_sdk::config::check_local_path("iso_checksum", "checksum file", &shown) {
        errors.push(e);
        return;
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ConfigError::at(
                "iso_checksum",
                format!("cannot read the checksum file `{shown}`: {e}"),
            ));
            return;
        }
    };
    for url in urls {
        let name = crate::step_download::file_name(url);
        if crate::checksum::find_in_checksum_file(&text, &name).is_none() {
            errors.push(ConfigError::at(
                "iso_checksum",
                format!("no checksum for `{name}` in the checksum file `{shown}`"),
            ));
        }
    }
}

/// Decodes and validates; collects every error. Its only I/O is the
/// validate-time file checks Packer also makes (see the module docs).
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    let (f, communicator) = decode_with_communicator::<Fields>(raw, cx, RUNTIME_TEMPLATES)?;
    let mut errors = ConfigErrors::new();

    // Source.
    let mut urls = f.iso_urls.clone();
    if !f.iso_url.is_empty() {
        if !urls.is_empty() {
            errors.push(ConfigError::at(
                "iso_url",
                "only one of `iso_url` or `iso_urls` may be specified",
            ));
        }
        urls = vec![f.iso_url.clone()];
    }
    if urls.is_empty() {
        errors.push(ConfigError::new(
            "one of `iso_url` or `iso_urls` must be specified",
        ));
    }
    let checksum = match Checksum::parse(if f.iso_skip_cache {
        "none"
    } else {
        &f.iso_checksum
    }) {
        Ok(c) => c,
        Err(e) => {
            errors.push(ConfigError::at("iso_checksum", e));
            Checksum::None
        }
    };

    // Output.
    let format = match f.format.as_str() {
        "" | "qcow2" => DiskFormat::Qcow2,
        "raw" => DiskFormat::Raw,
        other => {
            errors.push(ConfigError::at(
                "format",
                format!("`format` must be `qcow2` or `raw`, found `{other}`"),
            ));
            DiskFormat::Qcow2
        }
    };
    let kind = if f.disk_image {
        SourceKind::DiskImage {
            backing_file: f.use_backing_file,
        }
    } else {
        SourceKind::Iso
    };
    if f.use_backing_file && (!f.disk_image || format != DiskFormat::Qcow2) {
        errors.push(ConfigError::at(
            "use_backing_file",
            "`use_backing_file` can only be enabled for qcow2 images and when `disk_image` is true",
        ));
    }
    let output_directory = PathBuf::from(if f.output_directory.is_empty() {
        format!("output-{}", cx.build_name)
    } else {
        f.output_directory.clone()
    });
    let vm_name = if f.vm_name.is_empty() {
        format!("packer-{}", cx.build_name)
    } else {
        f.vm_name.clone()
    };

    // Disk.
    let size_mib = if f.disk_size.is_empty() {
        40960
    } else {
        parse_disk_size(&f.disk_size).unwrap_or_else(|e| {
            errors.push(ConfigError::at("disk_size", e));
            40960
        })
    };
    let or = |v: &str, d: &str| {
        if v.is_empty() {
            d.to_string()
        } else {
            v.to_string()
        }
    };
    let interface = or(&f.disk_interface, "virtio");
    one_of(&mut errors, "disk_interface", &interface, DISK_INTERFACES);
    let cache = or(&f.disk_cache, "writeback");
    one_of(&mut errors, "disk_cache", &cache, DISK_CACHES);
    let discard = or(&f.disk_discard, "ignore");
    one_of(&mut errors, "disk_discard", &discard, DISK_DISCARDS);
    let detect_zeroes = or(&f.disk_detect_zeroes, "off");
    one_of(
        &mut errors,
        "disk_detect_zeroes",
        &detect_zeroes,
        DETECT_ZEROES,
    );
    let compaction = if f.skip_compaction || f.use_backing_file {
        Compaction::Skip
    } else {
        Compaction::Convert {
            compress: f.disk_compression,
        }
    };

    // Machine.
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
    for (key, v) in [
        ("cpus", f.cpus),
        ("sockets", f.sockets),
        ("cores", f.cores),
        ("threads", f.threads),
    ] {
        if v == Some(0) {
            errors.push(ConfigError::at(key, format!("`{key}` must be at least 1")));
        }
    }
    let topology = [f.sockets, f.cores, f.threads];
    let smp = if topology.iter().all(Option::is_none) {
        Smp {
            cpus: f.cpus.unwrap_or(1).max(1),
            sockets: None,
            cores: None,
            threads: None,
        }
    } else {
        // As Packer: the product of the topology, or `cpus` when smaller.
        let product = topology
            .iter()
            .map(|v| v.unwrap_or(1).max(1))
            .fold(1u32, |a, b| a.saturating_mul(b));
        let cpus = f.cpus.map(|c| c.clamp(1, product)).unwrap_or(product);
        if let Some(s) = f.sockets {
            if s > cpus {
                errors.push(ConfigError::at(
                    "sockets",
                    format!("`sockets` ({s}) must not be higher than `cpus` ({cpus})"),
                ));
            }
        }
        Smp {
            cpus,
            sockets: f.sockets,
            cores: f.cores,
            threads: f.threads,
        }
    };
    let opt = |v: &str| (!v.is_empty()).then(|| v.to_string());
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
        for key in ["use_tpm1", "tpm_device_type"] {
            let set = match key {
                "use_tpm1" => f.use_tpm1,
                _ => !f.tpm_device_type.is_empty(),
            };
            if set {
                errors.push(ConfigError::at(
                    key,
                    format!("`{key}` has no effect without `vtpm: true`"),
                ));
            }
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
    let display = if f.headless {
        Display::Headless
    } else if !f.display.is_empty() {
        Display::Window(f.display.clone())
    } else if f.use_default_display {
        Display::QemuDefault
    } else {
        Display::Window("gtk".into())
    };
    let network = if f.net_bridge.is_empty() {
        Network::User {
            forward: !f.skip_nat_mapping,
        }
    } else {
        Network::Bridge(f.net_bridge.clone())
    };
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
    for (i, arg) in f.qemuargs.iter().enumerate() {
        match arg.first() {
            None => errors.push(ConfigError::at(
                format!("qemuargs[{i}]"),
                "each `qemuargs` entry must start with a switch such as `-m`",
            )),
            Some(_) => {
                for (j, part) in arg.iter().enumerate() {
                    if let Err(e) = interpolate::check_syntax(part) {
                        errors.push(ConfigError::at(
                            format!("qemuargs[{i}][{j}]"),
                            e.to_string(),
                        ));
                    }
                }
            }
        }
    }

    // Ports.
    let host_ports = range(
        &mut errors,
        ("host_port_min", "host_port_max"),
        (f.host_port_min, f.host_port_max),
        (2222, 4444),
    );
    let vnc_ports = range(
        &mut errors,
        ("vnc_port_min", "vnc_port_max"),
        (f.vnc_port_min, f.vnc_port_max),
        (5900, 6000),
    );
    if *vnc_ports.start() < 5900 {
        errors.push(ConfigError::at(
            "vnc_port_min",
            format!(
                "`vnc_port_min` must be at least 5900 (QEMU counts displays from there), found `{}`",
                vnc_ports.start()
            ),
        ));
    }
    let vnc_password = f.vnc_password.clone().filter(|p| !p.expose().is_empty());
    if let Some(p) = &vnc_password {
        cx.redactor.add(p.expose().clone());
        if !f.vnc_use_password {
            errors.push(ConfigError::at(
                "vnc_password",
                "`vnc_password` needs `vnc_use_password: true`",
            ));
        }
    }
    if f.disable_vnc && f.vnc_use_password {
        errors.push(ConfigError::at(
            "vnc_use_password",
            "`vnc_use_password` cannot be used with `disable_vnc`",
        ));
    }
    let vnc = (!f.disable_vnc).then(|| Vnc {
        bind_address: or(&f.vnc_bind_address, "127.0.0.1"),
        ports: vnc_ports,
        password: f.vnc_use_password.then_some(match vnc_password {
            Some(p) => VncPassword::Given(p),
            None => VncPassword::Generated,
        }),
    });

    // Boot.
    let boot_wait = (!f.boot_wait.is_empty()).then(|| {
        duration(
            &mut errors,
            "boot_wait",
            &f.boot_wait,
            Duration::from_secs(10),
        )
    });
    let default_interval = std::env::var("PACKER_KEY_INTERVAL")
        .ok()
        .and_then(|v| parse_go_duration(&v).ok())
        .unwrap_or(Duration::from_millis(100));
    let key_interval = duration(
        &mut errors,
        "boot_key_interval",
        &f.boot_key_interval,
        default_interval,
    );
    let keygroup_interval = (!f.boot_keygroup_interval.is_empty()).then(|| {
        duration(
            &mut errors,
            "boot_keygroup_interval",
            &f.boot_keygroup_interval,
            Duration::ZERO,
        )
    });
    let mut steps = Vec::new();
    if !f.boot_command.is_empty() && !f.boot_steps.is_empty() {
        errors.push(ConfigError::at(
            "boot_steps",
            "only one of `boot_command` or `boot_steps` may be specified",
        ));
    } else if !f.boot_command.is_empty() {
        steps.push(BootStep {
            command: f.boot_command.concat(),
            description: None,
        });
    } else {
        for (i, s) in f.boot_steps.iter().enumerate() {
            match s.as_slice() {
                [command] | [command, _] => steps.push(BootStep {
                    command: command.clone(),
                    description: s.get(1).filter(|d| !d.is_empty()).cloned(),
                }),
                _ => errors.push(ConfigError::at(
                    format!("boot_steps[{i}]"),
                    format!(
                        "each `boot_steps` entry is `[keys]` or `[keys, description]`, found {} elements",
                        s.len()
                    ),
                )),
            }
        }
    }
    for (i, step) in steps.iter().enumerate() {
        let key = if f.boot_steps.is_empty() {
            "boot_command".to_string()
        } else {
            format!("boot_steps[{i}]")
        };
        if let Err(e) = interpolate::check_syntax(&step.command) {
            errors.push(ConfigError::at(key, e.to_string()));
        } else if let Err(e) = bootcommand::parse(&step.command) {
            // Only literal keys can be checked before rendering: a
            // template action may still produce keys.
            if !step.command.contains("{{") {
                errors.push(ConfigError::at(key, e.to_string()));
            }
        }
    }

    // HTTP.
    let http_ports = range(
        &mut errors,
        ("http_port_min", "http_port_max"),
        (f.http_port_min, f.http_port_max),
        (8000, 9000),
    );
    let http_source = match (f.http_directory.is_empty(), f.http_content.is_empty()) {
        (false, false) => {
            errors.push(ConfigError::at(
                "http_content",
                "only one of `http_directory` or `http_content` may be specified",
            ));
            None
        }
        (false, true) => Some(HttpSource::Directory(PathBuf::from(&f.http_directory))),
        (true, false) => Some(HttpSource::Content(f.http_content.clone())),
        (true, true) => None,
    };
    let http = http_source.map(|source| Http {
        source,
        bind_address: or(&f.http_bind_address, "0.0.0.0"),
        ports: http_ports,
    });

    // Packer 1.6.6 checks these at validate: each path exists (a glob only
    // has to be a valid pattern), `Bad Floppy disk file '…'` and so on.
    for (key, what, paths) in [
        ("floppy_files", "floppy disk file", &f.floppy_files),
        ("floppy_dirs", "floppy disk directory", &f.floppy_dirs),
        ("cd_files", "CD disk file", &f.cd_files),
    ] {
        for (i, path) in paths.iter().enumerate() {
            let key = format!("{key}[{i}]");
            if path.contains(['*', '?', '[']) {
                if let Err(e) = globset::Glob::new(path) {
                    errors.push(ConfigError::at(key, format!("bad {what} `{path}`: {e}")));
                }
            } else if let Some(e) = kiln_sdk::config::check_local_path(key, what, path) {
                errors.push(e);
            }
        }
    }
    if let Checksum::File { url: sums } = &checksum {
        check_local_checksum_file(sums, &urls, &mut errors);
    }

    let cd = (!f.cd_files.is_empty() || !f.cd_content.is_empty()).then(|| Cd {
        files: f.cd_files.clone(),
        content: f.cd_content.clone(),
        label: f.cd_label.clone(),
    });
    let floppy =
        (!f.floppy_files.is_empty() || !f.floppy_dirs.is_empty() || !f.floppy_content.is_empty())
            .then(|| Floppy {
                files: f.floppy_files.clone(),
                dirs: f.floppy_dirs.clone(),
                label: or(&f.floppy_label, "packer"),
                content: f.floppy_content.clone(),
            });
    let mut additional_bytes = Vec::new();
    for (i, size) in f.disk_additional_size.iter().enumerate() {
        match parse_byte_size(size) {
            Ok(b) => additional_bytes.push(b),
            Err(e) => errors.push(ConfigError::at(format!("disk_additional_size[{i}]"), e)),
        }
    }

    let shutdown_timeout = duration(
        &mut errors,
        "shutdown_timeout",
        &f.shutdown_timeout,
        Duration::from_secs(300),
    );
    let shutdown_command = (!f.shutdown_command.is_empty()).then(|| f.shutdown_command.clone());
    if shutdown_command.is_some() && matches!(communicator, CommunicatorConfig::None) {
        errors.push(ConfigError::at(
            "shutdown_command",
            "`shutdown_command` needs a communicator, but `communicator` is `none`",
        ));
    }
    if !f.qmp_socket_path.is_empty() && !f.qmp_enable {
        errors.push(ConfigError::at(
            "qmp_socket_path",
            "`qmp_socket_path` needs `qmp_enable: true`",
        ));
    }
    let qmp_socket_path = f.qmp_enable.then(|| {
        if f.qmp_socket_path.is_empty() {
            output_directory.join(format!("{vm_name}.monitor"))
        } else {
            PathBuf::from(&f.qmp_socket_path)
        }
    });
    if f.iso_skip_cache
        && matches!(
            kind,
            SourceKind::DiskImage {
                backing_file: false
            }
        )
    {
        errors.push(ConfigError::at(
            "iso_skip_cache",
            "`iso_skip_cache` needs a local copy to clone with `disk_image`: set `use_backing_file` too, or drop `iso_skip_cache`",
        ));
    }
    let _ = f.run_once;

    errors.locate(raw).into_result(Config {
        source: Source {
            urls,
            checksum,
            target_path: (!f.iso_target_path.is_empty()).then(|| PathBuf::from(&f.iso_target_path)),
            target_extension: or(&f.iso_target_extension, "iso"),
            kind,
            skip_cache: f.iso_skip_cache,
        },
        output_directory,
        vm_name,
        format,
        disk: Disk {
            size_mib,
            interface,
            cache,
            discard,
            detect_zeroes,
            compaction,
            resize: !f.skip_resize_disk,
            additional_bytes,
            img_args: f.qemu_img_args.clone(),
        },
        machine: Machine {
            accelerator,
            smp,
            cpu_model: opt(&f.cpu_model),
            vga: opt(&f.vga),
            tpm,
            memory_mib,
            machine_type: or(&f.machine_type, "pc"),
            net_device: or(&f.net_device, "virtio-net"),
            network,
            cdrom_interface: f.cdrom_interface.clone(),
            display,
            qemu_binary: or(&f.qemu_binary, "qemu-system-x86_64"),
            qemuargs: f.qemuargs.clone(),
            firmware,
        },
        host_ports,
        vnc,
        boot: Boot {
            wait: boot_wait,
            steps,
            key_interval,
            keygroup_interval,
        },
        http,
        cd,
        floppy,
        shutdown_command,
        shutdown_timeout,
        qmp_socket_path,
        communicator,
        interpolation: cx.interpolation.clone(),
        force: cx.force,
    })
}

/// A prepare context for unit tests.
#[cfg(test)]
pub(crate) fn tests_cx() -> PrepareContext {
    tests::cx()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn cx() -> PrepareContext {
        PrepareContext {
            build_name: "qemu".into(),
            builder_type: "qemu".into(),
            interpolation: Default::default(),
            redactor: Default::default(),
            debug: false,
            force: false,
            on_error: Default::default(),
            template_dir: ".".into(),
        }
    }

    fn errs(v: serde_json::Value) -> String {
        match prepare(&RawConfig::from_value(v), &cx()) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn local_files_are_checked_at_validate_like_packer() {
        // packer 1.6.6 `validate`: "Bad Floppy disk file 'x': stat x: no such
        // file or directory", "Bad Floppy disk directory", "Bad CD disk
        // file", "no checksum found in: sums.txt"; a glob only has to parse.
        let dir = tempfile::tempdir().unwrap();
        let sums = dir.path().join("SHA256SUMS");
        std::fs::write(&sums, format!("{}  other.iso\n", "a".repeat(64))).unwrap();
        let text = errs(json!({
            "iso_url": "a.iso", "communicator": "none",
            "iso_checksum": format!("file:{}", sums.display()),
            "floppy_files": ["/nonexistent/ks.cfg", "/nonexistent/*.cfg", "bad[.cfg"],
            "floppy_dirs": ["/nonexistent/dir"],
            "cd_files": ["/nonexistent/meta-data"],
        }));
        for want in [
            "`floppy_files[0]`: bad floppy disk file `/nonexistent/ks.cfg`: no such file or directory",
            "`floppy_files[2]`: bad floppy disk file `bad[.cfg`",
            "`floppy_dirs[0]`: bad floppy disk directory `/nonexistent/dir`",
            "`cd_files[0]`: bad CD disk file `/nonexistent/meta-data`",
            "`iso_checksum`: no checksum for `a.iso` in the checksum file",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        assert!(!text.contains("floppy_files[1]"), "{text}");
        let text = errs(json!({"iso_url": "a.iso", "communicator": "none",
            "iso_checksum": "file:/nonexistent/SUMS"}));
        assert!(
            text.contains("`iso_checksum`: bad checksum file `/nonexistent/SUMS`"),
            "{text}"
        );
        // A remote checksum file is fetched by the build, not by validate.
        assert_eq!(
            errs(json!({"iso_url": "a.iso", "communicator": "none",
                "iso_checksum": "file:http://127.0.0.1:9/SUMS"})),
            ""
        );
    }

    #[test]
    fn packer_defaults() {
        let c = prepare(
            &RawConfig::from_value(
                json!({"iso_url": "a.iso", "iso_checksum": "none", "communicator": "none"}),
            ),
            &cx(),
        )
        .unwrap();
        assert_eq!(c.output_directory, PathBuf::from("output-qemu"));
        assert_eq!(c.vm_name, "packer-qemu");
        assert_eq!(c.format, DiskFormat::Qcow2);
        assert_eq!(c.disk.size_mib, 40960);
        assert_eq!(c.disk.interface, "virtio");
        assert_eq!(c.disk.cache, "writeback");
        assert_eq!(c.disk.discard, "ignore");
        assert_eq!(c.machine.memory_mib, 512);
        assert_eq!(c.machine.smp.cpus, 1);
        assert_eq!(c.machine.machine_type, "pc");
        assert_eq!(c.machine.net_device, "virtio-net");
        assert_eq!(c.machine.display, Display::Window("gtk".into()));
        assert_eq!(c.host_ports, 2222..=4444);
        assert_eq!(c.vnc.as_ref().map(|v| v.ports.clone()), Some(5900..=6000));
        assert_eq!(c.boot.wait, None);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(300));
        assert_eq!(c.disk.compaction, Compaction::Convert { compress: false });
        assert_eq!(c.machine.accelerator, Accelerator::Auto);
    }

    #[test]
    fn collects_every_error() {
        let e = errs(json!({
            "format": "vmdk", "accelerator": "bogus", "disk_interface": "sata2",
            "disk_cache": "zz", "disk_discard": "qq", "boot_wait": "xx",
            "shutdown_timeout": "bad", "host_port_min": 5000, "host_port_max": 4000,
            "disk_size": "lots", "communicator": "none"
        }));
        for want in [
            "one of `iso_url` or `iso_urls` must be specified",
            "a checksum must be specified",
            "`format` must be `qcow2` or `raw`, found `vmdk`",
            "found `bogus`",
            "found `sata2`",
            "found `zz`",
            "found `qq`",
            "`boot_wait`",
            "`shutdown_timeout`",
            "`host_port_min` (5000) must be less than `host_port_max` (4000)",
            "found `lots`",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
    }

    #[test]
    fn backing_file_needs_disk_image_and_forces_skip_compaction() {
        let e = errs(
            json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none", "use_backing_file": true}),
        );
        assert!(e.contains("`use_backing_file` can only be enabled"), "{e}");
        let c = prepare(
            &RawConfig::from_value(json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none", "use_backing_file": true, "disk_image": true})),
            &cx(),
        )
        .unwrap();
        assert_eq!(c.disk.compaction, Compaction::Skip);
        assert_eq!(c.source.kind, SourceKind::DiskImage { backing_file: true });
    }

    #[test]
    fn runtime_templates_are_kept() {
        let c = prepare(
            &RawConfig::from_value(json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none",
                "boot_command": ["<enter>http://{{ .HTTPIP }}:{{ .HTTPPort }}/"], "qemuargs": [["-name", "{{ .Name }}"]]})),
            &cx(),
        )
        .unwrap();
        assert_eq!(
            c.boot.steps[0].command,
            "<enter>http://{{ .HTTPIP }}:{{ .HTTPPort }}/"
        );
        assert_eq!(c.machine.qemuargs[0][1], "{{ .Name }}");
    }

    #[test]
    fn disk_sizes() {
        assert_eq!(parse_disk_size("40960M"), Ok(40960));
        assert_eq!(parse_disk_size("20G"), Ok(20480));
        assert_eq!(parse_disk_size("1000"), Ok(1000));
        assert!(parse_disk_size("x").is_err());
        assert_eq!(
            prepare(&RawConfig::from_value(json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none", "disk_size": 2048})), &cx())
                .unwrap()
                .disk
                .size_mib,
            2048
        );
    }

    #[test]
    fn new_keys_have_packers_defaults() {
        let c = prepare(
            &RawConfig::from_value(
                json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none",
                "vtpm": true, "qmp_enable": true, "output_directory": "out", "vm_name": "vm",
                "efi_firmware_code": "/c.fd", "efi_firmware_vars": "/v.fd", "run_once": true,
                "boot_steps": [["<enter>", "Start"], ["x<wait1s>"]], "boot_keygroup_interval": "2s",
                "floppy_content": {"a.txt": "A"}, "vnc_use_password": true}),
            ),
            &cx(),
        )
        .unwrap();
        assert_eq!(
            c.machine.tpm,
            Some(Tpm {
                version: TpmVersion::V2,
                device: "tpm-tis".into()
            })
        );
        assert_eq!(c.qmp_socket_path, Some(PathBuf::from("out/vm.monitor")));
        assert_eq!(
            c.machine.firmware,
            Firmware::Efi(Efi {
                code: Some("/c.fd".into()),
                vars: Some("/v.fd".into()),
                drop_vars: false
            })
        );
        assert_eq!(
            c.boot.steps,
            [
                BootStep {
                    command: "<enter>".into(),
                    description: Some("Start".into())
                },
                BootStep {
                    command: "x<wait1s>".into(),
                    description: None
                }
            ]
        );
        assert_eq!(c.boot.keygroup_interval, Some(Duration::from_secs(2)));
        assert_eq!(c.floppy.unwrap().content["a.txt"], "A");
        assert!(matches!(
            c.vnc.unwrap().password,
            Some(VncPassword::Generated)
        ));
        assert_eq!(c.machine.cpu_model, None);
        assert_eq!(c.disk.img_args, QemuImgArgs::default());
    }

    #[test]
    fn new_keys_collect_every_error() {
        let e = errs(json!({
            "iso_url": "a", "iso_checksum": "none", "communicator": "none",
            "sockets": 4, "cpus": 2, "cores": 0,
            "disk_additional_size": ["1G", "big"],
            "boot_command": ["<enter>"], "boot_steps": [["x"]],
            "use_tpm1": true, "efi_firmware_code": "/c.fd", "firmware": "/f",
            "vnc_password": "hunter2", "qmp_socket_path": "/q.sock",
            "boot_keygroup_interval": "soon", "efi_drop_efivars": false
        }));
        for want in [
            "`cores` must be at least 1",
            "`sockets` (4) must not be higher than `cpus` (2)",
            "disk_additional_size[1]",
            "found `big`",
            "only one of `boot_command` or `boot_steps` may be specified",
            "`use_tpm1` has no effect without `vtpm: true`",
            "only one of `firmware` or `efi_boot`",
            "`vnc_password` needs `vnc_use_password: true`",
            "`qmp_socket_path` needs `qmp_enable: true`",
            "`boot_keygroup_interval`",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
        assert!(!e.contains("hunter2"), "{e}");
        let e = errs(
            json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none",
            "boot_steps": [["a", "b", "c"]], "efi_firmware_vars": "/v.fd"}),
        );
        for want in [
            "each `boot_steps` entry is `[keys]` or `[keys, description]`, found 3 elements",
            "`efi_firmware_vars` needs `efi_firmware_code` too",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
        let e = errs(
            json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none",
            "qemu_img_args": {"rebase": []}}),
        );
        assert!(
            e.contains("`qemu_img_args.rebase`: unknown field `rebase`, expected one of `convert`, `create`, `resize`"),
            "{e}"
        );
    }

    #[test]
    fn vnc_passwords_are_secret() {
        let cx = cx();
        let c = prepare(
            &RawConfig::from_value(
                json!({"iso_url": "a", "iso_checksum": "none", "communicator": "none",
                "vnc_use_password": true, "vnc_password": "s3cr3tpw"}),
            ),
            &cx,
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("s3cr3tpw"));
        assert_eq!(cx.redactor.redact("pw is s3cr3tpw"), "pw is <sensitive>");
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("512"), Ok(512));
        assert_eq!(parse_byte_size("1k"), Ok(1024));
        assert_eq!(parse_byte_size("64M"), Ok(64 << 20));
        assert_eq!(parse_byte_size("2Gb"), Ok(2 << 30));
        assert_eq!(parse_byte_size("1E"), Ok(1 << 60));
        assert!(parse_byte_size("16E").is_err());
        assert!(parse_byte_size("0").is_err());
        assert!(parse_byte_size("1X").is_err());
    }

    #[test]
    fn skip_cache_needs_no_checksum_but_a_backing_file_for_disk_images() {
        let c = prepare(
            &RawConfig::from_value(json!({"iso_url": "http://h/a.iso", "communicator": "none", "iso_skip_cache": true})),
            &cx(),
        )
        .unwrap();
        assert!(c.source.skip_cache);
        let e = errs(
            json!({"iso_url": "http://h/a", "communicator": "none", "iso_skip_cache": true, "disk_image": true}),
        );
        assert!(e.contains("`iso_skip_cache` needs a local copy"), "{e}");
    }
}
