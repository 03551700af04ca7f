//! The floppy and CD section: `floppy_files`, `floppy_dirs`,
//! `floppy_content`, `floppy_label` (`packer`), and `cd_files`,
//! `cd_content`, `cd_label`. As Packer 1.6.6 does at validate, each listed
//! path must exist (a glob only has to be a valid pattern): that `stat`
//! is its only I/O. Holds nothing.

use std::collections::BTreeMap;

use kiln_sdk::config::{check_local_path, ConfigError, ConfigErrors};

use super::check::or;
use super::raw::Fields;

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

/// Validates the floppy and CD keys.
pub(super) fn prepare(f: &Fields, errors: &mut ConfigErrors) -> (Option<Floppy>, Option<Cd>) {
    // Packer 1.6.6: `Bad Floppy disk file '…'` and so on.
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
            } else if let Some(e) = check_local_path(key, what, path) {
                errors.push(e);
            }
        }
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
    (floppy, cd)
}
