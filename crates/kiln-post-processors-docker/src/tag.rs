//! `docker-tag`: tags the input image as `repository:tag` for each of
//! `tags` (or `repository` alone). The result (builder id
//! `packer.post-processor.docker-tag`, id = the last tag made) carries the
//! tags as `docker_tags` state for `docker-push`. The input is always kept,
//! as in Packer: deleting the image would make the tags pointless. Tags are
//! not undone on failure (a tag is only a name), and destroying the result
//! removes the last tag only.

use std::sync::Arc;

use async_trait::async_trait;
use bollard::query_parameters::TagImageOptions;
use kiln_builder_docker::client::engine_message;
use kiln_builder_docker::{split_reference, ImageArtifact};
use kiln_sdk::component::{BuildError, KeepInput};
use kiln_sdk::{
    Artifact, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, RawConfig,
};
use serde::Deserialize;

use crate::{wrong_input, Deferred, IMAGE_IDS, TAG_BUILDER_ID};

/// The `docker-tag` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The repository to tag the image into.
    #[serde(default)]
    pub repository: String,
    /// The tags (each makes `repository:tag`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Packer's older single `tag`, added to `tags`.
    #[serde(default)]
    pub tag: String,
    /// Accepted for compatibility: engines since 1.12 always move tags.
    #[serde(default)]
    pub force: bool,
}

/// Declares `docker-tag`.
pub struct DockerTagFactory;

impl PostProcessorFactory for DockerTagFactory {
    fn name(&self) -> &'static str {
        "docker-tag"
    }
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let config: Config = crate::decode(raw, cx, |c: &Config, errors| {
            for (i, t) in c.tags.iter().enumerate() {
                if t.is_empty() || t.contains([':', '/', '@']) {
                    errors.push(kiln_sdk::ConfigError::at(
                        format!("tags[{i}]"),
                        format!("`{t}` is not a valid tag"),
                    ));
                }
            }
        })?;
        let mut tags = config.tags.clone();
        if !config.tag.is_empty() && !tags.contains(&config.tag) {
            tags.insert(0, config.tag.clone());
        }
        let mut warnings = Vec::new();
        let missing = Deferred::unless_set(
            &config.repository,
            "docker-tag",
            "repository",
            "the repository to tag the image into",
            raw,
            &mut warnings,
        );
        let mut prepared = Prepared::new(Box::new(DockerTag {
            repository: config.repository,
            tags,
            missing,
        }) as Box<dyn PostProcessor>);
        prepared.warnings = warnings;
        Ok(prepared)
    }
}

/// A prepared `docker-tag`.
pub struct DockerTag {
    repository: String,
    tags: Vec<String>,
    /// `repository`, when unset: Packer 1.6.6 validates without it.
    missing: Option<Deferred>,
}

#[async_trait]
impl PostProcessor for DockerTag {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        Deferred::check(&self.missing)?;
        if !IMAGE_IDS.contains(&input.builder_id()) {
            return Err(wrong_input("docker-tag", input.builder_id(), &IMAGE_IDS));
        }
        let docker = kiln_builder_docker::connect()
            .await
            .map_err(BuildError::msg)?;
        let targets: Vec<String> = if self.tags.is_empty() {
            vec![self.repository.clone()]
        } else {
            self.tags
                .iter()
                .map(|t| format!("{}:{t}", self.repository))
                .collect()
        };
        let source = input.id();
        for target in &targets {
            if cx.cancel.is_cancelled() {
                return Err(BuildError::Cancelled);
            }
            cx.ui.message(&format!("Tagging image: {source}"));
            cx.ui.message(&format!("Repository: {target}"));
            let (repo, tag) = split_reference(target);
            docker
                .tag_image(
                    &source,
                    Some(TagImageOptions {
                        repo: Some(repo),
                        tag: Some(tag),
                    }),
                )
                .await
                .map_err(|e| {
                    BuildError::msg(format!(
                        "cannot tag image `{source}` as `{target}`: {}",
                        engine_message(&e)
                    ))
                })?;
        }
        let last = targets.last().cloned().unwrap_or_default();
        Ok(PostProcessed {
            artifact: Arc::new(ImageArtifact {
                builder_id: TAG_BUILDER_ID.into(),
                id: last,
                tags: if self.tags.is_empty() {
                    Vec::new()
                } else {
                    targets
                },
                generated: Default::default(),
            }),
            keep_input: KeepInput::Force(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validates_repository_and_tags() {
        let e = DockerTagFactory
            .prepare(
                &RawConfig::from_value(json!({"tags": ["ok", "bad:tag"]})),
                &kiln_test::prepare_cx("docker"),
            )
            .err()
            .unwrap()
            .to_string();
        // Packer 1.6.6 validates without `repository` (it fails at run).
        assert!(!e.contains("repository"), "{e}");
        assert!(e.contains("`tags[1]`: `bad:tag` is not a valid tag"), "{e}");
        assert!(DockerTagFactory
            .prepare(
                &RawConfig::from_value(json!({"repository": "r", "tag": "a", "force": true})),
                &kiln_test::prepare_cx("docker"),
            )
            .is_ok());
    }
}
