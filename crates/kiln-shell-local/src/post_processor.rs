//! The `shell-local` post-processor: runs the configured scripts on the
//! local machine once an artifact exists, then passes that artifact on
//! unchanged and always keeps it (Packer forces `keep_input_artifact`; use
//! `artifice` to replace it). Cleanup is the engine's: temporary scripts are
//! deleted and cancelled scripts are killed.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::component::{BuildError, KeepInput};
use kiln_sdk::{
    Artifact, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, RawConfig,
};

use crate::config::{self, Settings, Variant};
use crate::engine;

/// Declares the `shell-local` post-processor.
pub struct ShellLocalPostProcessorFactory;

impl PostProcessorFactory for ShellLocalPostProcessorFactory {
    fn name(&self) -> &'static str {
        "shell-local"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let settings = config::prepare(raw, cx, Variant::PostProcessor)?;
        Ok(Prepared::new(Box::new(ShellLocalPostProcessor {
            settings,
        })))
    }
}

/// A prepared `shell-local` post-processor.
struct ShellLocalPostProcessor {
    settings: Settings,
}

/// The builder's generated data, as artifacts carry it in their
/// `generated_data` state (an object; non-string values are stringified).
fn generated_data(artifact: &dyn Artifact) -> BTreeMap<String, String> {
    match artifact.state("generated_data") {
        Some(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

#[async_trait]
impl PostProcessor for ShellLocalPostProcessor {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        let generated = generated_data(input.as_ref());
        // Packer's process environment carries the run id to every child.
        let process_env = if cx.run_uuid.is_empty() {
            Vec::new()
        } else {
            vec![("PACKER_RUN_UUID".to_string(), cx.run_uuid.to_string())]
        };
        engine::run(
            &self.settings,
            engine::Run {
                ui: cx.ui,
                cancel: &cx.cancel,
                interpolation: cx.interpolation,
                generated: &generated,
                build_name: cx.build_name,
                builder_type: cx.builder_type,
                process_env,
            },
        )
        .await?;
        Ok(PostProcessed {
            artifact: input,
            keep_input: KeepInput::Force(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use kiln_sdk::artifact::ArtifactError;
    use kiln_sdk::interpolate::Context;
    use kiln_sdk::ui::RecordingUi;
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use kiln_test::build_cx;

    /// An artifact that carries generated data, like a builder's.
    #[derive(Debug)]
    struct TestArtifact;

    #[async_trait]
    impl Artifact for TestArtifact {
        fn builder_id(&self) -> &str {
            "kiln.test"
        }
        fn id(&self) -> String {
            "test".into()
        }
        fn files(&self) -> Vec<std::path::PathBuf> {
            Vec::new()
        }
        fn describe(&self) -> String {
            "a test artifact".into()
        }
        fn state(&self, key: &str) -> Option<serde_json::Value> {
            (key == "generated_data")
                .then(|| json!({"PackerHTTPAddr": "10.0.2.2:8000", "Port": 22}))
        }
        async fn destroy(&self) -> Result<(), ArtifactError> {
            Ok(())
        }
    }

    async fn post_process(
        v: serde_json::Value,
        ui: &RecordingUi,
    ) -> Result<PostProcessed, BuildError> {
        let prepared = ShellLocalPostProcessorFactory
            .prepare(&RawConfig::from_value(v), &build_cx("web", "null"))
            .unwrap_or_else(|e| panic!("{e}"));
        let interpolation = Context::default();
        prepared
            .component
            .post_process(
                PostProcessContext {
                    ui,
                    cancel: CancellationToken::new(),
                    build_name: "web",
                    builder_type: "file",
                    run_uuid: "0000-run",
                    interpolation: &interpolation,
                    record: &Default::default(),
                    builder: None,
                    options: Default::default(),
                },
                Arc::new(TestArtifact),
            )
            .await
    }

    fn messages(ui: &RecordingUi) -> Vec<String> {
        ui.lines()
            .iter()
            .filter_map(|l| l.strip_prefix("message: "))
            .map(str::to_string)
            .collect()
    }

    #[tokio::test]
    async fn runs_and_passes_the_artifact_through() {
        let ui = RecordingUi::default();
        let out = post_process(
            json!({"inline": [
                "echo \"$PACKER_BUILD_NAME $PACKER_BUILDER_TYPE $PACKER_HTTP_ADDR $PACKER_RUN_UUID {{.Port}}\""
            ]}),
            &ui,
        )
        .await
        .unwrap();
        assert_eq!(out.artifact.id(), "test");
        assert_eq!(out.keep_input, KeepInput::Force(true));
        assert_eq!(messages(&ui), ["web file 10.0.2.2:8000 0000-run 22"]);
        assert!(ui.lines()[0].starts_with("say: Running local shell script: "));
    }

    #[tokio::test]
    async fn a_string_execute_command_runs_under_sh() {
        let ui = RecordingUi::default();
        post_process(
            json!({"inline": ["true"], "execute_command": "echo single {{.Vars}}| tr -d \"'\""}),
            &ui,
        )
        .await
        .unwrap();
        assert_eq!(
            messages(&ui),
            ["single PACKER_BUILDER_TYPE=file PACKER_BUILD_NAME=web PACKER_HTTP_ADDR=10.0.2.2:8000"]
        );
    }

    #[tokio::test]
    async fn failures_fail_the_post_processor() {
        let ui = RecordingUi::default();
        let err = post_process(json!({"inline": ["exit 2"]}), &ui)
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "Script exited with non-zero exit status: 2.Allowed exit codes are: [0]"
        );
    }
}
