//! Commits the provisioned container to a new image, applying `changes`,
//! `author` and `message`, and records `ImageSha256`. The commit runs on
//! its own task whose handle is stored in `DockerState::pending_commit`, so
//! an interrupted commit is still found; the image id goes in
//! `DockerState::image_id`. Its cleanup removes that image when the build
//! failed or was cancelled, so a failed build leaves no dangling image.
//!
//! The container is removed right after the commit (the run step's
//! cleanup), so kiln stops it while it is committed instead of after the
//! commit; see [`commit_and_stop`].

use async_trait::async_trait;
use bollard::models::ContainerConfig;
use bollard::query_parameters::{CommitContainerOptions, KillContainerOptions, RemoveImageOptions};
use bollard::Docker;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::{engine_message, is_not_found, DockerError};
use crate::DockerState;

/// See the module docs.
pub struct StepCommit {
    author: Option<String>,
    message: Option<String>,
    changes: Vec<String>,
    /// `-debug`: leave the container running after the commit, as Packer
    /// does, for inspection before cleanup.
    keep_running: bool,
}

impl StepCommit {
    /// A commit step.
    pub fn new(
        author: Option<String>,
        message: Option<String>,
        changes: Vec<String>,
        keep_running: bool,
    ) -> Self {
        StepCommit {
            author,
            message,
            changes,
            keep_running,
        }
    }
}

/// Commits container `id` with `options` (whose `pause` this sets), and
/// kills the container while the engine commits it.
///
/// Packer runs `docker commit`, where the engine pauses the container,
/// commits it and unpauses it, and only then, in cleanup, kills and removes
/// it. The container is discarded right after the commit either way, so
/// kiln freezes it itself (the point Packer's commit would freeze it at),
/// then asks for the commit without a second pause and for the kill at the
/// same time. `SIGKILL` reaches frozen processes, which die as the engine
/// thaws them, before running another instruction: nothing they could do
/// reaches the commit, whose file system is the one Packer's commit takes.
///
/// The stop (task deletion, network teardown) then runs during the commit
/// instead of after it. On drivers without a native diff (fuse-overlayfs,
/// vfs) the engine's commit ends by sleeping until the wall-clock second
/// after the diff started (`NaiveDiffDriver.Diff` in moby, so that
/// same-second mtimes compare correctly), so the kill fits in a commit that
/// is waiting anyway, and the removal that follows finds the container
/// stopped. Measured on bench/docker-build.sh's template with the commit's
/// start spread over the second: 0.56 s from the commit to the removed
/// container, against 0.64 s for Packer's order (and 0.61 s for a kill
/// before the commit, which delays the diff's start by the kill).
///
/// A failed kill is left to cleanup's forced removal. The engine's paused
/// commit (Packer's order) is used under `-debug` (`keep_running`), where
/// the container may be inspected before cleanup, and when the container
/// cannot be paused (for one, it is not running any more: a stopped
/// container is committed as it is, as `docker commit` does).
async fn commit_and_stop(
    docker: Docker,
    id: String,
    mut options: CommitContainerOptions,
    keep_running: bool,
) -> Result<String, DockerError> {
    let frozen = !keep_running && docker.pause_container(&id).await.is_ok();
    options.pause = !frozen;
    let commit = async {
        docker
            .commit_container(options, ContainerConfig::default())
            .await
            .map(|r| r.id)
            .map_err(|source| DockerError::Api {
                context: format!("cannot commit container `{id}`"),
                source,
            })
    };
    if !frozen {
        return commit.await;
    }
    let kill = docker.kill_container(&id, None::<KillContainerOptions>);
    let (committed, _killed) = tokio::join!(commit, kill);
    committed
}

#[async_trait]
impl Step<DockerState> for StepCommit {
    fn name(&self) -> &'static str {
        "StepCommit"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut DockerState,
    ) -> Result<StepAction, StepError> {
        let Some(id) = state.container.clone() else {
            return Err(StepError::msg("there is no container to commit"));
        };
        cx.ui.say("Committing the container");
        let options = CommitContainerOptions {
            container: Some(id.clone()),
            author: self.author.clone(),
            comment: self.message.clone(),
            // The engine joins changes with newlines and parses them as a
            // Dockerfile, exactly as `docker commit --change` does.
            changes: (!self.changes.is_empty()).then(|| self.changes.join("\n")),
            ..Default::default()
        };
        let docker = state.docker.clone();
        let handle = state.pending_commit.insert(tokio::spawn(commit_and_stop(
            docker,
            id,
            options,
            self.keep_running,
        )));
        let result = handle.await;
        state.pending_commit = None;
        let image = result
            .map_err(|e| StepError::msg(format!("the commit stopped: {e}")))?
            .map_err(StepError::msg)?;
        if image.is_empty() {
            return Err(StepError::msg(
                "the engine returned no image id for the commit",
            ));
        }
        state.image_id = Some(image.clone());
        cx.ui.message(&format!("Image ID: {image}"));
        state.generated.insert(
            "ImageSha256".into(),
            image.trim_start_matches("sha256:").to_string(),
        );
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut DockerState) {
        if let Some(pending) = state.pending_commit.take() {
            if let Ok(Ok(image)) = pending.await {
                state.image_id = Some(image);
            }
        }
        if !cx.failed {
            return;
        }
        let Some(image) = state.image_id.take() else {
            return;
        };
        match state
            .docker
            .remove_image(&image, None::<RemoveImageOptions>, None)
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => cx.ui.error(&format!(
                "cannot remove image `{image}` of the failed build: {}",
                engine_message(&e)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_docker_test::{base_image, docker_ok, Cleanup};

    /// Runs a labelled build-like container and returns its id.
    fn container(label: &str) -> String {
        docker_ok(&[
            "run",
            "-d",
            "-i",
            "-t",
            "-l",
            label,
            "--entrypoint=/bin/sh",
            base_image(),
        ])
    }

    fn running(id: &str) -> String {
        docker_ok(&["inspect", "-f", "{{.State.Status}}", id])
    }

    // The test owns its runtime and thread, so holding the process-wide
    // docker test lock across awaits cannot deadlock.
    #[allow(clippy::await_holding_lock)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn debug_commits_like_packer_and_leaves_the_container_running() {
        let _lock = kiln_docker_test::shared();
        let label = format!("kiln-test={}", kiln_docker_test::unique("commitdebug"));
        let cleanup = Cleanup::with_label(&label);
        let docker = crate::client::connect().await.unwrap();
        for keep_running in [true, false] {
            let id = container(&label);
            let options = CommitContainerOptions {
                container: Some(id.clone()),
                changes: Some("LABEL kept=yes".into()),
                ..Default::default()
            };
            let image = commit_and_stop(docker.clone(), id.clone(), options, keep_running)
                .await
                .unwrap();
            cleanup.image(&image);
            let expected = if keep_running { "running" } else { "exited" };
            assert_eq!(running(&id), expected, "keep_running: {keep_running}");
            let label = docker_ok(&["image", "inspect", "-f", "{{.Config.Labels.kept}}", &image]);
            assert_eq!(label, "yes");
        }
    }
}
