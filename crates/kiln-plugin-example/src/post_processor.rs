//! The `example-sha256` post-processor: writes `FILE.sha256` (the hex
//! digest and the file name, as `sha256sum` does) next to each file of its
//! input artifact, and returns those files as a new artifact. Destroying
//! that artifact deletes them. While it hashes, the live view shows which
//! file (`sha256 2/3`) and how much of it was read: a plugin's activity and
//! progress reach kiln's UI like a built-in component's.

use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::artifact::FileArtifact;
use kiln_sdk::component::{BuildError, KeepInput, PostProcessContext, PostProcessed};
use kiln_sdk::config::{decode, ConfigErrors, RawConfig};
use kiln_sdk::ui::{ProgressReader, Ui};
use kiln_sdk::{Artifact, PostProcessor, PostProcessorFactory, PrepareContext, Prepared};
use serde::Deserialize;
use sha2::Digest;
use tokio::io::AsyncReadExt;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    keep_input_artifact: Option<bool>,
}

/// Registers `example-sha256`.
pub struct Sha256Factory;

impl PostProcessorFactory for Sha256Factory {
    fn name(&self) -> &'static str {
        "example-sha256"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let c: Config = decode(raw, &crate::decode_options(cx))?;
        Ok(Prepared::new(Box::new(Sha256 {
            keep: c.keep_input_artifact.unwrap_or(true),
        })))
    }
}

struct Sha256 {
    keep: bool,
}

#[async_trait]
impl PostProcessor for Sha256 {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        let mut out = Vec::new();
        let files = input.files();
        for (i, f) in files.iter().enumerate() {
            cx.ui
                .activity(Some(&format!("sha256 {}/{}", i + 1, files.len())));
            let sum = sha256_file(f, cx.ui).await?;
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let target = f.with_file_name(format!("{name}.sha256"));
            tokio::fs::write(&target, format!("{sum}  {name}\n"))
                .await
                .map_err(|e| {
                    BuildError::msg(format!("cannot write `{}`: {e}", target.display()))
                })?;
            cx.ui.message(&format!("{sum}  {name}"));
            out.push(target);
        }
        cx.ui.activity(None);
        cx.ui.say(&format!("Wrote {} checksum file(s)", out.len()));
        Ok(PostProcessed {
            artifact: Arc::new(FileArtifact {
                builder_id: "kiln.example-sha256".into(),
                id: "sha256".into(),
                description: format!("{} checksum file(s)", out.len()),
                files: out,
            }),
            keep_input: KeepInput::Default(self.keep),
        })
    }
}

/// The hex SHA-256 of file `f`, read in chunks, each reported to `ui` as
/// `sha256` progress.
async fn sha256_file(f: &std::path::Path, ui: &dyn Ui) -> Result<String, BuildError> {
    let failed = |e: std::io::Error| BuildError::msg(format!("cannot read `{}`: {e}", f.display()));
    let file = tokio::fs::File::open(f).await.map_err(failed)?;
    let size = file.metadata().await.map_err(failed)?.len();
    let mut reader = ProgressReader::new(file, ui, "sha256", size);
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).await.map_err(failed)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
