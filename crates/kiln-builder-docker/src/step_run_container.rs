//! Creates and starts the build container from the parsed `run_command`,
//! with the host temporary directory mounted at `container_dir`. Records
//! the container (and, while the engine is still creating it, the pending
//! creation) in `DockerState` before anything can fail or be cancelled; its
//! cleanup force-removes the container and its anonymous volumes, on
//! success, failure and Ctrl-C alike.

use std::collections::HashMap;

use async_trait::async_trait;
use bollard::models::{ContainerCreateBody, DeviceMapping, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::{engine_message, is_not_found, Context};
use crate::run_command::RunSpec;
use crate::DockerState;

/// See the module docs.
pub struct StepRunContainer {
    spec: RunSpec,
    /// The `docker run` arguments Packer would pass, for the UI.
    display: Vec<String>,
    container_dir: String,
}

impl StepRunContainer {
    /// A run step for `spec`; `display` is what the "Run command" line
    /// shows after the shared-directory volume.
    pub fn new(spec: RunSpec, display: Vec<String>, container_dir: String) -> Self {
        StepRunContainer {
            spec,
            display,
            container_dir,
        }
    }
}

/// The engine's create request for `spec`, with `shared` (the host
/// directory) mounted at `container_dir`.
pub fn create_body(
    spec: &RunSpec,
    shared: Option<&str>,
    container_dir: &str,
) -> ContainerCreateBody {
    let mut binds = Vec::new();
    if let Some(host) = shared {
        binds.push(format!("{host}:{container_dir}"));
    }
    binds.extend(spec.binds.iter().cloned());
    let tmpfs: HashMap<String, String> = spec
        .tmpfs
        .iter()
        .map(|t| match t.split_once(':') {
            Some((p, o)) => (p.to_string(), o.to_string()),
            None => (t.clone(), String::new()),
        })
        .collect();
    let devices: Vec<DeviceMapping> = spec
        .devices
        .iter()
        .map(|d| {
            let mut parts = d.splitn(3, ':');
            let host = parts.next().unwrap_or_default().to_string();
            let inside = parts
                .next()
                .map(str::to_string)
                .unwrap_or_else(|| host.clone());
            let perms = parts.next().unwrap_or("rwm").to_string();
            DeviceMapping {
                path_on_host: Some(host),
                path_in_container: Some(inside),
                cgroup_permissions: Some(perms),
            }
        })
        .collect();
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    // Every other option was mapped onto `spec.host` by the parser.
    let host = spec.host.clone();
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        entrypoint: spec.entrypoint.clone(),
        cmd: non_empty(&spec.cmd),
        tty: Some(spec.tty),
        open_stdin: Some(spec.interactive),
        attach_stdin: Some(false),
        attach_stdout: Some(false),
        attach_stderr: Some(false),
        env: non_empty(&spec.env),
        user: spec.user.clone(),
        working_dir: spec.workdir.clone(),
        hostname: spec.hostname.clone(),
        domainname: spec.domainname.clone(),
        labels: (!spec.labels.is_empty()).then(|| spec.labels.iter().cloned().collect()),
        volumes: non_empty(&spec.volumes),
        exposed_ports: non_empty(&spec.exposed_ports),
        stop_signal: spec.stop_signal.clone(),
        stop_timeout: spec.stop_timeout,
        healthcheck: spec.healthcheck.clone(),
        host_config: Some(HostConfig {
            binds: Some(binds),
            privileged: Some(spec.privileged),
            cap_add: non_empty(&spec.cap_add),
            cap_drop: non_empty(&spec.cap_drop),
            tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
            devices: (!devices.is_empty()).then_some(devices),
            network_mode: spec.network.clone(),
            extra_hosts: non_empty(&spec.extra_hosts),
            init: spec.init.then_some(true),
            ..host
        }),
        ..Default::default()
    }
}

#[async_trait]
impl Step<DockerState> for StepRunContainer {
    fn name(&self) -> &'static str {
        "StepRunContainer"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut DockerState,
    ) -> Result<StepAction, StepError> {
        cx.ui.say("Starting docker container...");
        let shared = state
            .temp_dir
            .as_ref()
            .map(|d| d.path().display().to_string());
        let mut body = create_body(&self.spec, shared.as_deref(), &self.container_dir);
        // A restored checkpoint: the same container, from its image.
        if let Some(image) = &state.restore_image {
            body.image = Some(image.clone());
        }
        // Packer shows the CLI command it runs; kiln shows its equivalent.
        let mut shown = vec!["docker".to_string(), "run".to_string()];
        if let Some(host) = &shared {
            shown.extend(["-v".to_string(), format!("{host}:{}", self.container_dir)]);
        }
        shown.extend(self.display.iter().cloned());
        cx.ui.message(&format!("Run command: {}", shown.join(" ")));
        let options = CreateContainerOptions {
            name: self.spec.name.clone(),
            platform: self.spec.platform.clone().unwrap_or_default(),
        };
        // Created on its own task: a Ctrl-C while the engine is creating
        // the container must not lose its id, or cleanup could not remove it.
        let docker = state.docker.clone();
        let image = self.spec.image.clone();
        state.pending_create = Some(tokio::spawn(async move {
            docker
                .create_container(Some(options), body)
                .await
                .map(|r| r.id)
                .map_err(|e| {
                    if is_not_found(&e) {
                        crate::client::DockerError::Msg(format!(
                            "cannot create the container: image `{image}` is not in the local engine ({})",
                            engine_message(&e)
                        ))
                    } else {
                        crate::client::DockerError::Api {
                            context: format!("cannot create a container from `{image}`"),
                            source: e,
                        }
                    }
                })
        }));
        let created = match state.pending_create.as_mut() {
            Some(handle) => handle.await,
            None => unreachable_state(),
        };
        state.pending_create = None;
        let id = created
            .map_err(|e| StepError::msg(format!("the container creation stopped: {e}")))?
            .map_err(StepError::msg)?;
        state.container = Some(id.clone());
        cx.ui.message(&format!("Container ID: {id}"));
        state
            .docker
            .start_container(&id, None)
            .await
            .context(|| format!("cannot start container `{id}`"))
            .map_err(StepError::msg)?;
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut DockerState) {
        if let Some(pending) = state.pending_create.take() {
            if let Ok(Ok(id)) = pending.await {
                state.container = Some(id);
            }
        }
        let Some(id) = state.container.take() else {
            return;
        };
        cx.ui.say(&format!("Killing the container: {id}"));
        match state
            .docker
            .remove_container(
                &id,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await
        {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => cx.ui.error(&format!(
                "cannot remove container `{id}`: {}",
                engine_message(&e)
            )),
        }
    }
}

fn unreachable_state() -> Result<Result<String, crate::client::DockerError>, tokio::task::JoinError>
{
    Ok(Err(crate::client::DockerError::Msg(
        "internal error: the container creation was not recorded".into(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_maps_docker_run_options() {
        let spec = crate::run_command::parse(
            &[
                "-d",
                "-i",
                "-t",
                "--privileged",
                "--cap-add",
                "NET_ADMIN",
                "--tmpfs",
                "/run:size=1m",
                "--device",
                "/dev/fuse",
                "-e",
                "A=1",
                "-l",
                "k=v",
                "--entrypoint=/bin/sh",
                "--",
                "img",
            ]
            .map(String::from),
        )
        .unwrap();
        let b = create_body(&spec, Some("/tmp/h"), "/packer-files");
        assert_eq!(b.image.as_deref(), Some("img"));
        assert_eq!(b.entrypoint, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(b.tty, Some(true));
        assert_eq!(b.open_stdin, Some(true));
        assert_eq!(b.env, Some(vec!["A=1".to_string()]));
        let h = b.host_config.unwrap();
        assert_eq!(h.binds, Some(vec!["/tmp/h:/packer-files".to_string()]));
        assert_eq!(h.privileged, Some(true));
        assert_eq!(h.cap_add, Some(vec!["NET_ADMIN".to_string()]));
        assert_eq!(h.tmpfs.unwrap()["/run"], "size=1m");
        assert_eq!(
            h.devices.unwrap()[0].path_in_container.as_deref(),
            Some("/dev/fuse")
        );
    }
}
