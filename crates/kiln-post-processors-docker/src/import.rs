//! `docker-import`: imports the tar of an export artifact (docker builder
//! `export_path`, or artifice) as an image named `repository[:tag]`,
//! applying `changes`. The tar is streamed from disk. The new image is the
//! result (builder id `packer.post-processor.docker-import`, id
//! `repository:tag`); destroying that artifact removes the image. Nothing
//! is left behind when the import fails.

use std::sync::Arc;

use async_trait::async_trait;
use bollard::query_parameters::CreateImageOptions;
use futures_util::{StreamExt, TryStreamExt};
use kiln_builder_docker::client::engine_message;
use kiln_builder_docker::{ImageArtifact, BUILDER_ID_IMPORT};
use kiln_sdk::component::{BuildError, KeepInput};
use kiln_sdk::{
    Artifact, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, RawConfig,
};
use serde::Deserialize;
use tokio_util::io::ReaderStream;

use crate::{require, wrong_input, TAR_IDS};

/// The `docker-import` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The repository of the imported image.
    #[serde(default)]
    pub repository: String,
    /// Its tag (none: the engine's `latest`).
    #[serde(default)]
    pub tag: String,
    /// Dockerfile instructions applied at import.
    #[serde(default)]
    pub changes: Vec<String>,
}

/// Declares `docker-import`.
pub struct DockerImportFactory;

impl PostProcessorFactory for DockerImportFactory {
    fn name(&self) -> &'static str {
        "docker-import"
    }
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let config: Config = crate::decode(raw, cx, |c: &Config, errors| {
            require(
                &c.repository,
                "repository",
                "the repository to import the image as",
                errors,
            )
        })?;
        Ok(Prepared::new(Box::new(DockerImport { config })))
    }
}

/// A prepared `docker-import`.
pub struct DockerImport {
    config: Config,
}

#[async_trait]
impl PostProcessor for DockerImport {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        if !TAR_IDS.contains(&input.builder_id()) {
            return Err(wrong_input("docker-import", input.builder_id(), &TAR_IDS));
        }
        let Some(file) = input
            .files()
            .into_iter()
            .next()
            .filter(|f| !f.as_os_str().is_empty())
        else {
            return Err(BuildError::msg(
                "`docker-import` needs an artifact with a tar file",
            ));
        };
        let mut repo = self.config.repository.clone();
        if !self.config.tag.is_empty() {
            repo = format!("{repo}:{}", self.config.tag);
        }
        cx.ui.message(&format!("Importing image: {}", input.id()));
        cx.ui.message(&format!("Repository: {repo}"));
        let shown = file.display().to_string();
        let f = tokio::fs::File::open(&file)
            .await
            .map_err(|e| BuildError::msg(format!("cannot open `{shown}`: {e}")))?;
        let docker = kiln_builder_docker::connect()
            .await
            .map_err(BuildError::msg)?;
        let (name, tag) = kiln_builder_docker::split_reference(&repo);
        let mut stream = docker.create_image(
            Some(CreateImageOptions {
                from_src: Some("-".into()),
                repo: Some(name),
                tag: Some(tag),
                changes: self.config.changes.clone(),
                ..Default::default()
            }),
            Some(bollard::body_try_stream(ReaderStream::new(f).into_stream())),
            None,
        );
        let mut id = None;
        loop {
            let next = tokio::select! {
                n = stream.next() => n,
                _ = cx.cancel.cancelled() => return Err(BuildError::Cancelled),
            };
            let Some(item) = next else { break };
            let info = item.map_err(|e| {
                BuildError::msg(format!(
                    "cannot import `{shown}` as `{repo}`: {}",
                    engine_message(&e)
                ))
            })?;
            if let Some(msg) = info.error_detail.and_then(|d| d.message) {
                return Err(BuildError::msg(format!(
                    "cannot import `{shown}` as `{repo}`: {msg}"
                )));
            }
            if let Some(status) = info.status.filter(|s| s.starts_with("sha256:")) {
                id = Some(status);
            }
        }
        if let Some(id) = &id {
            cx.ui.message(&format!("Imported ID: {id}"));
        }
        Ok(PostProcessed {
            artifact: Arc::new(ImageArtifact {
                builder_id: BUILDER_ID_IMPORT.into(),
                id: repo,
                tags: Vec::new(),
                generated: Default::default(),
            }),
            keep_input: KeepInput::Default(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repository_is_required_and_unknown_keys_rejected() {
        let e = DockerImportFactory
            .prepare(
                &RawConfig::from_value(json!({"tags": "x"})),
                &kiln_test::prepare_cx("docker"),
            )
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unknown configuration key `tags`"), "{e}");
        let e = DockerImportFactory
            .prepare(
                &RawConfig::from_value(json!({})),
                &kiln_test::prepare_cx("docker"),
            )
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`repository` is required"), "{e}");
    }
}
