//! The output section: `output_directory` (`output-BUILDNAME`), `vm_name`
//! (`packer-BUILDNAME`) and `format` (qcow2 or raw), with the rule that
//! `use_backing_file` needs a qcow2 output of a `disk_image`. Pure; holds
//! nothing.

use std::path::PathBuf;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use kiln_sdk::PrepareContext;

use super::raw::Fields;

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

/// Where the image goes and what it is.
pub(super) struct Output {
    pub(super) directory: PathBuf,
    pub(super) vm_name: String,
    pub(super) format: DiskFormat,
}

/// Validates the output keys.
pub(super) fn prepare(f: &Fields, cx: &PrepareContext, errors: &mut ConfigErrors) -> Output {
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
    if f.use_backing_file && (!f.disk_image || format != DiskFormat::Qcow2) {
        errors.push(ConfigError::at(
            "use_backing_file",
            "`use_backing_file` can only be enabled for qcow2 images and when `disk_image` is true",
        ));
    }
    let directory = PathBuf::from(if f.output_directory.is_empty() {
        format!("output-{}", cx.build_name)
    } else {
        f.output_directory.clone()
    });
    let vm_name = if f.vm_name.is_empty() {
        format!("packer-{}", cx.build_name)
    } else {
        f.vm_name.clone()
    };
    Output {
        directory,
        vm_name,
        format,
    }
}
