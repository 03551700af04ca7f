//! Makes sure the base image is in the engine: with `pull` (the default)
//! it is pulled unless it is already local, with the `login` credentials
//! when given. Stores nothing, and its cleanup undoes nothing: a pulled
//! base image is kept, as `docker pull` would keep it.

use async_trait::async_trait;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::CreateImageOptions;
use futures_util::StreamExt;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::client::{engine_message, is_not_found};
use crate::config::{Login, Pull};
use crate::DockerState;

/// See the module docs.
pub struct StepPull {
    image: String,
    pull: Pull,
    login: Login,
    platform: Option<String>,
}

impl StepPull {
    /// A pull step for `image`.
    pub fn new(image: String, pull: Pull, login: Login, platform: Option<String>) -> Self {
        StepPull {
            image,
            pull,
            login,
            platform,
        }
    }
}

/// Splits an image reference into the name and the tag or digest that the
/// engine's pull wants (a bare name means `latest`, not every tag).
pub fn split_reference(image: &str) -> (String, String) {
    if let Some((name, digest)) = image.split_once('@') {
        return (name.to_string(), digest.to_string());
    }
    let last_slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[last_slash..].rfind(':') {
        Some(i) => (
            image[..last_slash + i].to_string(),
            image[last_slash + i + 1..].to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

#[async_trait]
impl Step<DockerState> for StepPull {
    fn name(&self) -> &'static str {
        "StepPull"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut DockerState,
    ) -> Result<StepAction, StepError> {
        if self.pull == Pull::Never {
            state.source_image = resolve(state, &self.image).await;
            return Ok(StepAction::Continue);
        }
        let image = &self.image;
        match state.docker.inspect_image(image).await {
            Ok(info) => {
                cx.ui
                    .say(&format!("Using local Docker image: {image} (not pulling)"));
                state.source_image = Some(resolved(image, &info));
                return Ok(StepAction::Continue);
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(StepError::msg(format!(
                    "cannot inspect image `{image}`: {}",
                    engine_message(&e)
                )))
            }
        }
        cx.ui.say(&format!("Pulling Docker image: {image}"));
        let credentials = match &self.login {
            Login::Anonymous => None,
            Login::Credentials {
                server,
                username,
                password,
            } => {
                if let Some(s) = server {
                    cx.ui.message(&format!("Logging in to {s} for the pull"));
                }
                Some(DockerCredentials {
                    username: username.clone(),
                    password: password.as_ref().map(|p| p.expose().clone()),
                    serveraddress: server.clone(),
                    ..Default::default()
                })
            }
        };
        let (name, tag) = split_reference(image);
        let mut stream = state.docker.create_image(
            Some(CreateImageOptions {
                from_image: Some(name),
                tag: Some(tag),
                platform: self.platform.clone().unwrap_or_default(),
                ..Default::default()
            }),
            None,
            credentials,
        );
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                        return Err(pull_failed(image, &detail));
                    }
                    if let (Some(status), None) = (info.status, info.progress_detail) {
                        let line = match info.id {
                            Some(id) => format!("{id}: {status}"),
                            None => status,
                        };
                        cx.ui.message(&line);
                    }
                }
                Err(e) => return Err(pull_failed(image, &engine_message(&e))),
            }
        }
        state.source_image = resolve(state, image).await;
        Ok(StepAction::Continue)
    }
}

/// `image` as the engine resolved it, for the build record.
async fn resolve(state: &DockerState, image: &str) -> Option<String> {
    let info = state.docker.inspect_image(image).await.ok()?;
    Some(resolved(image, &info))
}

/// The image's registry digest (`name@sha256:…`) when it came from a
/// registry, else `image@` its local id.
fn resolved(image: &str, info: &bollard::models::ImageInspect) -> String {
    let (name, _) = split_reference(image);
    let digests = info.repo_digests.as_deref().unwrap_or_default();
    if let Some(d) = digests
        .iter()
        .find(|d| {
            d.split_once('@')
                .is_some_and(|(n, _)| n == name || n.ends_with(&format!("/{name}")))
        })
        .or(digests.first())
    {
        return d.clone();
    }
    match &info.id {
        Some(id) => format!("{name}@{id}"),
        None => image.to_string(),
    }
}

fn pull_failed(image: &str, why: &str) -> StepError {
    StepError::msg(format!(
        "cannot pull image `{image}`, and it is not in the local engine either: {why}; \
         import or load the image first, or check the registry and the `login` settings"
    ))
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn references_split_into_name_and_tag() {
        let s = |r: &str| {
            let (a, b) = split_reference(r);
            format!("{a} {b}")
        };
        assert_eq!(s("busybox"), "busybox latest");
        assert_eq!(s("busybox:1.36"), "busybox 1.36");
        assert_eq!(s("localhost:5000/a/b"), "localhost:5000/a/b latest");
        assert_eq!(s("localhost:5000/a/b:v1"), "localhost:5000/a/b v1");
        assert_eq!(s("a@sha256:00"), "a sha256:00");
    }
}
