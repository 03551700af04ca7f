//! The source section: `iso_url` or `iso_urls`, `iso_checksum` (a local
//! `file:` checksum list is read here, as Packer 1.6.6 does at validate),
//! `iso_target_path`, `iso_target_extension`, `iso_skip_cache`, and
//! whether it is an installer ISO or a disk image (`disk_image`,
//! `use_backing_file`). Its only I/O is reading that checksum file; holds
//! nothing.

use std::path::PathBuf;

use kiln_sdk::config::{ConfigError, ConfigErrors};

use super::check::or;
use super::raw::Fields;
use crate::checksum::Checksum;

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

/// Validates the source keys.
pub(super) fn prepare(f: &Fields, errors: &mut ConfigErrors) -> Source {
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
    let sums = if f.iso_skip_cache {
        "none"
    } else {
        &f.iso_checksum
    };
    let checksum = Checksum::parse(sums).unwrap_or_else(|e| {
        errors.push(ConfigError::at("iso_checksum", e));
        Checksum::None
    });
    if let Checksum::File { url } = &checksum {
        check_local_checksum_file(url, &urls, errors);
    }
    let kind = if f.disk_image {
        SourceKind::DiskImage {
            backing_file: f.use_backing_file,
        }
    } else {
        SourceKind::Iso
    };
    if f.iso_skip_cache
        && kind
            == (SourceKind::DiskImage {
                backing_file: false,
            })
    {
        errors.push(ConfigError::at(
            "iso_skip_cache",
            "`iso_skip_cache` needs a local copy to clone with `disk_image`: set `use_backing_file` too, or drop `iso_skip_cache`",
        ));
    }
    Source {
        urls,
        checksum,
        target_path: (!f.iso_target_path.is_empty()).then(|| PathBuf::from(&f.iso_target_path)),
        target_extension: or(&f.iso_target_extension, "iso"),
        kind,
        skip_cache: f.iso_skip_cache,
    }
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
