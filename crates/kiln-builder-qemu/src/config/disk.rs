//! The disk section: `disk_size` (MiB, 40960), `disk_interface`,
//! `disk_cache`, `disk_discard`, `disk_detect_zeroes` (each from QEMU's
//! list), compaction (`skip_compaction`, `disk_compression`, forced off by
//! `use_backing_file`), `skip_resize_disk`, `disk_additional_size` and
//! `qemu_img_args`. The size parsers are in `sizes`. Pure; holds nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::check::{one_of, or};
use super::raw::Fields;
use super::sizes::{parse_byte_size, parse_disk_size};

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

/// Validates the disk keys.
pub(super) fn prepare(f: &Fields, errors: &mut ConfigErrors) -> Disk {
    let size_mib = if f.disk_size.is_empty() {
        40960
    } else {
        parse_disk_size(&f.disk_size).unwrap_or_else(|e| {
            errors.push(ConfigError::at("disk_size", e));
            40960
        })
    };
    let mut listed = |key: &str, value: &str, default: &str, allowed: &[&str]| {
        let v = or(value, default);
        one_of(errors, key, &v, allowed);
        v
    };
    let interface = listed(
        "disk_interface",
        &f.disk_interface,
        "virtio",
        DISK_INTERFACES,
    );
    let cache = listed("disk_cache", &f.disk_cache, "writeback", DISK_CACHES);
    let discard = listed("disk_discard", &f.disk_discard, "ignore", DISK_DISCARDS);
    let detect_zeroes = listed(
        "disk_detect_zeroes",
        &f.disk_detect_zeroes,
        "off",
        DETECT_ZEROES,
    );
    let compaction = if f.skip_compaction || f.use_backing_file {
        Compaction::Skip
    } else {
        Compaction::Convert {
            compress: f.disk_compression,
        }
    };
    let mut additional_bytes = Vec::new();
    for (i, size) in f.disk_additional_size.iter().enumerate() {
        match parse_byte_size(size) {
            Ok(b) => additional_bytes.push(b),
            Err(e) => errors.push(ConfigError::at(format!("disk_additional_size[{i}]"), e)),
        }
    }
    Disk {
        size_mib,
        interface,
        cache,
        discard,
        detect_zeroes,
        compaction,
        resize: !f.skip_resize_disk,
        additional_bytes,
        img_args: f.qemu_img_args.clone(),
    }
}
