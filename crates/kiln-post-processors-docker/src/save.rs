//! `docker-save`: writes the input image (`docker save`) to `path` as a tar
//! stream. The file is created only after the engine has started answering,
//! and is deleted again if the save fails or is cancelled. The result is the
//! input artifact itself, as in Packer (the manifest then records the image).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use kiln_builder_docker::client::engine_message;
use kiln_sdk::component::{BuildError, KeepInput};
use kiln_sdk::{
    Artifact, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, RawConfig,
};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::{wrong_input, Deferred, IMAGE_IDS};

/// The `docker-save` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The tar file to write.
    #[serde(default)]
    pub path: String,
}

/// Declares `docker-save`.
pub struct DockerSaveFactory;

impl PostProcessorFactory for DockerSaveFactory {
    fn name(&self) -> &'static str {
        "docker-save"
    }
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let config: Config = crate::decode(raw, cx, |_: &Config, _| {})?;
        let mut warnings = Vec::new();
        let missing = Deferred::unless_set(
            &config.path,
            "docker-save",
            "path",
            "the tar file to save the image to",
            raw,
            &mut warnings,
        );
        let mut prepared = Prepared::new(Box::new(DockerSave {
            path: PathBuf::from(config.path),
            missing,
        }) as Box<dyn PostProcessor>);
        prepared.warnings = warnings;
        Ok(prepared)
    }
}

/// A prepared `docker-save`.
pub struct DockerSave {
    path: PathBuf,
    /// `path`, when unset: Packer 1.6.6 validates without it.
    missing: Option<Deferred>,
}

/// Removes the partial file unless disarmed.
struct Partial<'a>(Option<&'a PathBuf>);

impl Drop for Partial<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[async_trait]
impl PostProcessor for DockerSave {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        Deferred::check(&self.missing)?;
        if !IMAGE_IDS.contains(&input.builder_id()) {
            return Err(wrong_input("docker-save", input.builder_id(), &IMAGE_IDS));
        }
        let docker = kiln_builder_docker::connect()
            .await
            .map_err(BuildError::msg)?;
        let id = input.id();
        let shown = self.path.display().to_string();
        cx.ui.message(&format!("Saving image: {id}"));
        let mut file = tokio::fs::File::create(&self.path)
            .await
            .map_err(|e| BuildError::msg(format!("cannot create `{shown}`: {e}")))?;
        let mut partial = Partial(Some(&self.path));
        let mut stream = docker.export_image(&id);
        loop {
            let next = tokio::select! {
                n = stream.next() => n,
                _ = cx.cancel.cancelled() => return Err(BuildError::Cancelled),
            };
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| {
                BuildError::msg(format!("cannot save image `{id}`: {}", engine_message(&e)))
            })?;
            file.write_all(&chunk)
                .await
                .map_err(|e| BuildError::msg(format!("cannot write `{shown}`: {e}")))?;
        }
        file.flush()
            .await
            .map_err(|e| BuildError::msg(format!("cannot write `{shown}`: {e}")))?;
        partial.0 = None;
        cx.ui.message(&format!("Saved to: {shown}"));
        Ok(PostProcessed {
            artifact: input,
            keep_input: KeepInput::Default(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_missing_path_is_a_warning_at_prepare() {
        // Packer 1.6.6 validates without `path` and fails when it runs.
        let prepared = DockerSaveFactory
            .prepare(
                &RawConfig::from_value(json!({})),
                &kiln_test::prepare_cx("docker"),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            prepared.warnings,
            ["`docker-save`: `path` is not set (the tar file to save the image to); the post-processor will fail when it runs"]
        );
    }
}
