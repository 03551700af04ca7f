//! Commits the provisioned container to a new image, applying `changes`,
//! `author` and `message`, and records `ImageSha256`. The commit runs on
//! its own task whose handle is stored in `DockerState::pending_commit`, so
//! an interrupted commit is still found; the image id goes in
//! `DockerState::image_id`. Its cleanup removes that image when the build
//! failed or was cancelled, so a failed build leaves no dangling image.

use async_trait::async_trait;
use bollard::models::ContainerConfig;
use bollard::query_parameters::{CommitContainerOptions, RemoveImageOptions};
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::{engine_message, is_not_found, DockerError};
use crate::DockerState;

/// See the module docs.
pub struct StepCommit {
    author: Option<String>,
    message: Option<String>,
    changes: Vec<String>,
}

impl StepCommit {
    /// A commit step.
    pub fn new(author: Option<String>, message: Option<String>, changes: Vec<String>) -> Self {
        StepCommit {
            author,
            message,
            changes,
        }
    }
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
            pause: true,
            ..Default::default()
        };
        let docker = state.docker.clone();
        let handle = state.pending_commit.insert(tokio::spawn(async move {
            docker
                .commit_container(options, ContainerConfig::default())
                .await
                .map(|r| r.id)
                .map_err(|source| DockerError::Api {
                    context: format!("cannot commit container `{id}`"),
                    source,
                })
        }));
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
