//! The qemu builder's artifact: the files in `output_directory` (the disk
//! image, and `efivars.fd` with `efi_boot`), with id `VM` and Packer's
//! builder id. `destroy` removes the output directory.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use kiln_sdk::artifact::{Artifact, ArtifactError};

use crate::config::Config;

/// See the module docs.
#[derive(Debug, Clone)]
pub struct QemuArtifact {
    dir: PathBuf,
    files: Vec<PathBuf>,
    disk_name: String,
    disk_type: String,
    disk_size_mib: u64,
    accelerator: String,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if e.file_type()?.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

impl QemuArtifact {
    /// Lists the output directory of a finished build.
    pub fn collect(config: &Config) -> Result<Self, ArtifactError> {
        let dir = config.output_directory.clone();
        let mut files = Vec::new();
        walk(&dir, &mut files).map_err(|e| ArtifactError {
            id: "VM".into(),
            message: format!("cannot list `{}`: {e}", dir.display()),
        })?;
        Ok(QemuArtifact {
            dir,
            files,
            disk_name: config.vm_name.clone(),
            disk_type: config.format.as_str().to_string(),
            disk_size_mib: config.disk.size_mib,
            accelerator: match config.machine.accelerator {
                crate::config::Accelerator::Named(a) => a.to_string(),
                crate::config::Accelerator::None => "none".into(),
                crate::config::Accelerator::Auto => "auto".into(),
            },
        })
    }
}

#[async_trait]
impl Artifact for QemuArtifact {
    fn builder_id(&self) -> &str {
        crate::BUILDER_ID
    }
    fn id(&self) -> String {
        "VM".into()
    }
    fn files(&self) -> Vec<PathBuf> {
        self.files.clone()
    }
    fn describe(&self) -> String {
        format!("VM files in directory: {}", self.dir.display())
    }
    fn state(&self, key: &str) -> Option<serde_json::Value> {
        match key {
            "diskName" => Some(self.disk_name.clone().into()),
            "diskType" => Some(self.disk_type.clone().into()),
            "diskSize" => Some(self.disk_size_mib.into()),
            "domainType" => Some(self.accelerator.clone().into()),
            _ => None,
        }
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        match tokio::fs::remove_dir_all(&self.dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ArtifactError {
                id: "VM".into(),
                message: format!("cannot remove `{}`: {e}", self.dir.display()),
            }),
        }
    }
}
