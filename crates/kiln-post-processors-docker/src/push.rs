//! `docker-push`: pushes the input image and every tag `docker-tag` made
//! (its `docker_tags` state) to their registries, with the `login_*`
//! credentials when `login` is set (the password is redacted from all
//! output). The result is an import artifact named after the first pushed
//! reference, as in Packer. A push changes only the registry; nothing local
//! is created, so there is nothing to clean up.

use std::sync::Arc;

use async_trait::async_trait;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::PushImageOptions;
use futures_util::StreamExt;
use kiln_builder_docker::client::engine_message;
use kiln_builder_docker::{split_reference, ImageArtifact, BUILDER_ID_IMPORT};
use kiln_sdk::component::{BuildError, KeepInput};
use kiln_sdk::{
    Artifact, ConfigError, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor,
    PostProcessorFactory, PrepareContext, Prepared, RawConfig, Secret,
};
use serde::Deserialize;

use crate::{wrong_input, IMAGE_IDS};

/// The `docker-push` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Log in before pushing.
    #[serde(default)]
    pub login: bool,
    /// The registry to log in to.
    #[serde(default)]
    pub login_server: String,
    /// The user name.
    #[serde(default)]
    pub login_username: String,
    /// The password (redacted everywhere).
    #[serde(default)]
    pub login_password: Option<Secret<String>>,
    /// Amazon ECR login: not available offline.
    #[serde(default)]
    pub ecr_login: bool,
    /// AWS settings of `ecr_login`, accepted for compatibility.
    #[serde(default)]
    pub aws_access_key: String,
    /// See `aws_access_key`.
    #[serde(default)]
    pub aws_secret_key: Option<Secret<String>>,
    /// See `aws_access_key`.
    #[serde(default)]
    pub aws_token: Option<Secret<String>>,
    /// See `aws_access_key`.
    #[serde(default)]
    pub aws_profile: String,
}

/// Declares `docker-push`.
pub struct DockerPushFactory;

impl PostProcessorFactory for DockerPushFactory {
    fn name(&self) -> &'static str {
        "docker-push"
    }
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let config: Config = crate::decode(raw, cx, |c: &Config, errors| {
            if c.ecr_login {
                let mut e = ConfigError::at(
                    "ecr_login",
                    "`ecr_login` is not available: kiln has no AWS client and builds offline",
                )
                .with_hint(
                    "log in with `login`, `login_server`, `login_username` and `login_password`",
                );
                if c.login_server.is_empty() {
                    e.message.push_str("; it would also need `login_server`");
                }
                errors.push(e);
            }
        })?;
        for s in [
            &config.login_password,
            &config.aws_secret_key,
            &config.aws_token,
        ]
        .into_iter()
        .flatten()
        {
            cx.redactor.add(s.expose().clone());
        }
        let credentials = config.login.then(|| DockerCredentials {
            username: Some(config.login_username.clone()).filter(|s| !s.is_empty()),
            password: config.login_password.as_ref().map(|p| p.expose().clone()),
            serveraddress: Some(config.login_server.clone()).filter(|s| !s.is_empty()),
            ..Default::default()
        });
        Ok(Prepared::new(Box::new(DockerPush {
            credentials: Secret::new(credentials),
            server: config.login_server,
        })))
    }
}

/// A prepared `docker-push`.
pub struct DockerPush {
    credentials: Secret<Option<DockerCredentials>>,
    server: String,
}

#[async_trait]
impl PostProcessor for DockerPush {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        if !IMAGE_IDS.contains(&input.builder_id()) {
            return Err(wrong_input("docker-push", input.builder_id(), &IMAGE_IDS));
        }
        let tags: Vec<String> = input
            .state("docker_tags")
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let mut names = vec![input.id()];
        for t in &tags {
            if !names.contains(t) {
                names.push(t.clone());
            }
        }
        let docker = kiln_builder_docker::connect()
            .await
            .map_err(BuildError::msg)?;
        if self.credentials.expose().is_some() {
            let server = if self.server.is_empty() {
                "the default registry"
            } else {
                &self.server
            };
            cx.ui.message(&format!("Logging in to {server}..."));
        }
        for name in &names {
            cx.ui.message(&format!("Pushing: {name}"));
            let (repo, tag) = split_reference(name);
            let mut stream = docker.push_image(
                &repo,
                Some(PushImageOptions {
                    tag: Some(tag),
                    platform: None,
                }),
                self.credentials.expose().clone(),
            );
            loop {
                let next = tokio::select! {
                    n = stream.next() => n,
                    _ = cx.cancel.cancelled() => return Err(BuildError::Cancelled),
                };
                let Some(item) = next else { break };
                let info = item.map_err(|e| {
                    BuildError::msg(format!("cannot push `{name}`: {}", engine_message(&e)))
                })?;
                if let Some(msg) = info.error_detail.and_then(|d| d.message) {
                    return Err(BuildError::msg(format!("cannot push `{name}`: {msg}")));
                }
                if let (Some(status), None) = (info.status, info.progress_detail) {
                    if !status.is_empty() {
                        cx.ui.message(&status);
                    }
                }
            }
        }
        Ok(PostProcessed {
            artifact: Arc::new(ImageArtifact {
                builder_id: BUILDER_ID_IMPORT.into(),
                id: names[0].clone(),
                tags,
                generated: Default::default(),
            }),
            keep_input: KeepInput::Default(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ecr_login_is_a_clear_error_and_passwords_are_redacted() {
        let cx = kiln_test::prepare_cx("docker");
        let e = DockerPushFactory
            .prepare(&RawConfig::from_value(json!({"ecr_login": true})), &cx)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`ecr_login` is not available"), "{e}");
        assert!(e.contains("would also need `login_server`"), "{e}");
        DockerPushFactory
            .prepare(
                &RawConfig::from_value(json!({"login": true, "login_password": "s3cret!"})),
                &cx,
            )
            .ok()
            .unwrap();
        assert_eq!(cx.redactor.redact("pw=s3cret!"), "pw=<sensitive>");
    }
}
