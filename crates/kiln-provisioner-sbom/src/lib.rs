//! The `sbom` provisioner: a software bill of materials of the machine
//! being built. It reads the machine's OS release and package databases
//! (dpkg, rpm, apk) through the build's communicator, then writes an SPDX
//! 2.3 JSON document (`output_spdx`) and/or a CycloneDX 1.5 JSON BOM
//! (`output_cyclonedx`) on this machine and attaches them to the build's
//! artifact, so the `manifest` post-processor names them.
//!
//! Each file is written whole to a temporary file beside it, then renamed
//! over the destination: an existing file is replaced (as the `file`
//! provisioner's downloads are), never left half-written. Nothing is left
//! on the machine; a failure leaves no temporary file behind (it is
//! deleted on drop). The files are outputs, kept after the build.

mod cyclonedx;
mod guest;
mod inventory;
mod spdx;

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use kiln_sdk::communicator::Communicator;
use kiln_sdk::component::BuildError;
use kiln_sdk::config::{decode_lenient, DecodeOptions};
use kiln_sdk::{
    ConfigError, ConfigErrors, PrepareContext, Prepared, ProvisionContext, Provisioner,
    ProvisionerFactory, RawConfig,
};
use serde::Deserialize;

pub use guest::NO_DATABASE;
pub use inventory::{
    parse_apk, parse_dpkg_query, parse_dpkg_status, parse_os_release, parse_rpm, Inventory,
    Manager, OsRelease, Package, ParseError,
};

/// The attachment kind of the SPDX document.
pub const KIND_SPDX: &str = "sbom-spdx";
/// The attachment kind of the CycloneDX BOM.
pub const KIND_CYCLONEDX: &str = "sbom-cyclonedx";

/// What a document says about itself beside the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentInfo {
    /// The document's name (the build's name).
    pub name: String,
    /// When it was made, RFC 3339 in UTC to the second
    /// (`2026-01-02T03:04:05Z`), as SPDX requires.
    pub created: String,
    /// The SPDX namespace's and CycloneDX serial number's UUID.
    pub serial: uuid::Uuid,
    /// kiln's version.
    pub tool_version: String,
}

impl DocumentInfo {
    /// The information of a document of build `name` made now, with a
    /// fresh serial number.
    pub fn now(name: &str, tool_version: &str) -> DocumentInfo {
        DocumentInfo {
            name: name.to_string(),
            created: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            serial: uuid::Uuid::new_v4(),
            tool_version: if tool_version.is_empty() {
                env!("CARGO_PKG_VERSION").to_string()
            } else {
                tool_version.to_string()
            },
        }
    }
}

/// The SPDX 2.3 JSON document of `inv`.
pub fn spdx_document(inv: &Inventory, info: &DocumentInfo) -> serde_json::Value {
    spdx::document(inv, info)
}

/// The CycloneDX 1.5 JSON BOM of `inv`.
pub fn cyclonedx_document(inv: &Inventory, info: &DocumentInfo) -> serde_json::Value {
    cyclonedx::document(inv, info)
}

/// Declares the `sbom` provisioner.
pub struct SbomProvisionerFactory;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    output_spdx: String,
    output_cyclonedx: String,
}

/// A prepared `sbom` provisioner.
#[derive(Debug, Clone)]
struct Sbom {
    spdx: Option<PathBuf>,
    cyclonedx: Option<PathBuf>,
    build_name: String,
}

/// The error for output `path` of `key` when it cannot be a file.
fn check_output(key: &str, path: &str) -> Option<ConfigError> {
    if path.ends_with('/') || Path::new(path).is_dir() {
        return Some(ConfigError::at(
            key,
            format!("`{path}` is a directory; `{key}` is the file to write"),
        ));
    }
    None
}

impl ProvisionerFactory for SbomProvisionerFactory {
    fn name(&self) -> &'static str {
        "sbom"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let (f, mut errors) = decode_lenient::<Fields>(
            raw,
            &DecodeOptions {
                interpolate: Some(&cx.interpolation),
                ..Default::default()
            },
        );
        let Some(f) = f else {
            return Err(errors);
        };
        if f.output_spdx.is_empty() && f.output_cyclonedx.is_empty() {
            errors.push(ConfigError::new(
                "at least one of `output_spdx` and `output_cyclonedx` must be set",
            ));
        }
        if !f.output_spdx.is_empty() && f.output_spdx == f.output_cyclonedx {
            errors.push(ConfigError::at(
                "output_cyclonedx",
                format!(
                    "`output_spdx` and `output_cyclonedx` are the same file `{}`",
                    f.output_spdx
                ),
            ));
        }
        for (key, path) in [
            ("output_spdx", &f.output_spdx),
            ("output_cyclonedx", &f.output_cyclonedx),
        ] {
            if let Some(e) = check_output(key, path).filter(|_| !path.is_empty()) {
                errors.push(e);
            }
        }
        if !errors.is_empty() {
            return Err(errors.locate(raw));
        }
        let path = |p: String| (!p.is_empty()).then(|| PathBuf::from(p));
        Ok(Prepared::new(Box::new(Sbom {
            spdx: path(f.output_spdx),
            cyclonedx: path(f.output_cyclonedx),
            build_name: cx.build_name.clone(),
        })))
    }
}

/// Writes `bytes` to `path` through a temporary file in the same
/// directory renamed over it, creating the directory when needed.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |e: &dyn std::fmt::Display| {
        BuildError::msg(format!("cannot write `{}`: {e}", path.display()))
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".kiln-sbom-")
        .tempfile_in(dir)
        .map_err(|e| fail(&e))?;
    tmp.write_all(bytes).map_err(|e| fail(&e))?;
    tmp.as_file().sync_all().map_err(|e| fail(&e))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(|e| fail(&e))?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}

impl Sbom {
    async fn run(
        &self,
        cx: &ProvisionContext<'_>,
        comm: &dyn Communicator,
    ) -> Result<(), BuildError> {
        cx.ui.say("Reading the machine's package databases...");
        let inv = guest::read(comm).await?;
        if inv.os.is_none() {
            cx.ui.error(
                "the machine has no /etc/os-release or /usr/lib/os-release: its OS is `unknown` in the SBOM",
            );
        }
        let info = DocumentInfo::now(&self.build_name, &cx.record.run().kiln_version);
        let outputs = [
            (&self.spdx, KIND_SPDX, "SPDX 2.3"),
            (&self.cyclonedx, KIND_CYCLONEDX, "CycloneDX 1.5"),
        ];
        for (path, kind, format) in outputs {
            let Some(path) = path else {
                continue;
            };
            let doc = match kind {
                KIND_SPDX => spdx::document(&inv, &info),
                _ => cyclonedx::document(&inv, &info),
            };
            let mut bytes = serde_json::to_vec_pretty(&doc)
                .map_err(|e| BuildError::msg(format!("cannot encode the SBOM: {e}")))?;
            bytes.push(b'\n');
            cx.ui.say(&format!(
                "Writing SBOM: {} packages ({}) to {} ({format})",
                inv.packages.len(),
                inv.manager_names(),
                path.display()
            ));
            write_atomic(path, &bytes)?;
            cx.record.attach(kind, path.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl Provisioner for Sbom {
    /// It reads the machine and writes local documents: it runs again
    /// after a restored checkpoint, so that every build has its SBOM.
    fn effects(&self) -> kiln_sdk::checkpoint::Effects {
        kiln_sdk::checkpoint::Effects::Outside
    }

    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        comm: &dyn Communicator,
    ) -> Result<(), BuildError> {
        tokio::select! {
            r = self.run(&cx, comm) => r,
            _ = cx.cancel.cancelled() => Err(BuildError::Cancelled),
        }
    }
}

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests;
