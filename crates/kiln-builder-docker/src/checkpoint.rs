//! Checkpoints of a docker build (`kiln build -incremental`): an image
//! committed from the build container after each provisioner, tagged
//! `kiln-checkpoint:<random>` so that `docker image prune` keeps it; a
//! restored build starts its container from that image with the build's
//! own run options. Processes started by earlier provisioners do not
//! survive a restore: only the file system and the image configuration do.
//! The cleaner untags the image and removes it when no other image is
//! built on it (a final image committed from a restored container is).

use std::path::Path;

use async_trait::async_trait;
use bollard::models::ContainerConfig;
use bollard::query_parameters::{CommitContainerOptions, RemoveImageOptions};
use bollard::Docker;
use kiln_sdk::checkpoint::{CheckpointCleaner, MachineSaver, Saved};
use kiln_sdk::component::BuildError;
use kiln_sdk::ui::Ui;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::client::{engine_message, is_not_found};
use crate::config::Config;

/// The repository checkpoint images are tagged in.
pub const CHECKPOINT_REPOSITORY: &str = "kiln-checkpoint";

/// What shapes a docker build's container before its provisioners run: the
/// base image by ID (not by name: a re-pulled `latest` is another image),
/// the platform, and every run option that changes what the provisioners
/// see (entrypoint and command, environment, user, working directory,
/// volumes and binds, hostname and domain name, network, privileges and
/// capabilities, tmpfs, devices, extra hosts, init, `container_dir`,
/// `exec_user`, `fix_upload_owner`). Not the container's `--name`, not its
/// labels, not the output (`commit`, `changes`, `export_path`, `discard`),
/// not the communicator's timeouts. Environment values are hashed: they may
/// be secrets.
pub fn inputs(c: &Config, image_id: &str) -> Value {
    let r = &c.run;
    let hashed: Vec<String> = r
        .env
        .iter()
        .map(|e| hex::encode(Sha256::digest(e.as_bytes())))
        .collect();
    json!({
        "image_id": image_id,
        "platform": r.platform,
        "entrypoint": r.entrypoint,
        "cmd": r.cmd,
        "interactive": r.interactive,
        "tty": r.tty,
        "env": hashed,
        "user": r.user,
        "workdir": r.workdir,
        "binds": r.binds,
        "volumes": r.volumes,
        "hostname": r.hostname,
        "domainname": r.domainname,
        "network": r.network,
        "privileged": r.privileged,
        "cap_add": r.cap_add,
        "cap_drop": r.cap_drop,
        "tmpfs": r.tmpfs,
        "devices": r.devices,
        "extra_hosts": r.extra_hosts,
        "init": r.init,
        "container_dir": c.container_dir,
        "exec_user": c.exec_user,
        "fix_upload_owner": format!("{:?}", c.upload_owner),
    })
}

/// Saves the build container as a checkpoint image.
pub struct DockerSaver {
    /// The engine.
    pub docker: Docker,
    /// The build container.
    pub container: String,
    /// The image of the previous checkpoint (at first, the one the
    /// container runs from): a checkpoint counts only the layers it adds.
    pub previous: std::sync::Mutex<String>,
}

async fn image_size(docker: &Docker, image: &str) -> u64 {
    docker
        .inspect_image(image)
        .await
        .ok()
        .and_then(|i| i.size)
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(0)
}

#[async_trait]
impl MachineSaver for DockerSaver {
    /// Commits the container (the engine pauses it meanwhile, and it runs
    /// on afterwards) to a tagged image; nothing is written to `dir`.
    async fn save(
        &self,
        _ui: &dyn Ui,
        _dir: &Path,
        cancel: &CancellationToken,
    ) -> Result<Saved, BuildError> {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
        let options = CommitContainerOptions {
            container: Some(self.container.clone()),
            repo: Some(CHECKPOINT_REPOSITORY.to_string()),
            tag: Some(tag.clone()),
            comment: Some("kiln checkpoint".to_string()),
            pause: true,
            ..Default::default()
        };
        let commit = self
            .docker
            .commit_container(options, ContainerConfig::default());
        let id = tokio::select! {
            r = commit => r.map_err(|e| BuildError::msg(format!(
                "cannot commit container `{}` as a checkpoint: {}",
                self.container,
                engine_message(&e)
            )))?.id,
            _ = cancel.cancelled() => return Err(BuildError::Cancelled),
        };
        let previous = self.previous.lock().map(|p| p.clone()).unwrap_or_default();
        let size = image_size(&self.docker, &id)
            .await
            .saturating_sub(image_size(&self.docker, &previous).await);
        if let Ok(mut p) = self.previous.lock() {
            *p = id.clone();
        }
        Ok(Saved {
            data: json!({"image": id, "tag": format!("{CHECKPOINT_REPOSITORY}:{tag}")}),
            external_size: size,
        })
    }
}

/// Checks and removes checkpoint images.
pub struct DockerCleaner;

fn field<'a>(data: &'a Value, name: &str) -> Result<&'a str, String> {
    data.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("the checkpoint's data has no `{name}`"))
}

#[async_trait]
impl CheckpointCleaner for DockerCleaner {
    async fn exists(&self, data: &Value) -> Result<bool, String> {
        let image = field(data, "image")?;
        let docker = crate::client::connect().await.map_err(|e| e.to_string())?;
        match docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(format!(
                "cannot inspect checkpoint image `{image}`: {}",
                engine_message(&e)
            )),
        }
    }

    async fn remove(&self, data: &Value) -> Result<(), String> {
        let image = field(data, "image")?;
        let docker = crate::client::connect().await.map_err(|e| e.to_string())?;
        if let Ok(tag) = field(data, "tag") {
            match docker
                .remove_image(tag, None::<RemoveImageOptions>, None)
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => {
                    return Err(format!(
                        "cannot remove checkpoint image `{tag}`: {}",
                        engine_message(&e)
                    ))
                }
            }
        }
        // Untagged, the image goes away by itself unless an image is built
        // on it (a final image committed from a restored container), which
        // then keeps its layers: the engine refuses, and that is right.
        match docker
            .remove_image(image, None::<RemoveImageOptions>, None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(format!(
                "cannot remove checkpoint image `{image}`: {}",
                engine_message(&e)
            )),
        }
    }
}
