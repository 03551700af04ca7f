//! The `example-file` data source: reads a file on this machine while the
//! template is evaluated, and offers its `content`, its first lines
//! (`lines`, at most `max_lines`), `line_count`, `size` and `sha256` as
//! `data.example-file.NAME.*`. `prepare` only checks the config; the file
//! is read in `execute`. Holds nothing; nothing to clean up.

use std::path::PathBuf;

use async_trait::async_trait;
use kiln_sdk::component::{BuildError, DataSourceContext};
use kiln_sdk::config::{decode_lenient, ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::{DataSource, DataSourceFactory, PrepareContext, Prepared};
use serde::Deserialize;
use serde_json::json;
use sha2::Digest;

/// The raw config.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Raw {
    path: String,
    max_lines: Option<u64>,
}

/// Registers `example-file`.
pub struct FileDataSourceFactory;

impl DataSourceFactory for FileDataSourceFactory {
    fn name(&self) -> &'static str {
        "example-file"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn DataSource>>, ConfigErrors> {
        // Lenient: unknown keys are reported together with the checks below.
        let (r, mut errors) = decode_lenient::<Raw>(raw, &crate::decode_options(cx));
        if let Some(r) = &r {
            if r.path.is_empty() {
                errors.push(ConfigError::at("path", "`path` must be set"));
            }
            if r.max_lines == Some(0) {
                errors.push(
                    ConfigError::at("max_lines", "`max_lines` must be at least 1")
                        .with_hint("leave it out to get every line"),
                );
            }
        }
        match r {
            Some(r) if errors.is_empty() => Ok(Prepared::new(Box::new(FileData {
                path: PathBuf::from(r.path),
                max_lines: r.max_lines,
            }))),
            _ => Err(errors.locate(raw)),
        }
    }
}

struct FileData {
    path: PathBuf,
    max_lines: Option<u64>,
}

#[async_trait]
impl DataSource for FileData {
    async fn execute(&self, cx: DataSourceContext) -> Result<serde_json::Value, BuildError> {
        let read = tokio::fs::read(&self.path);
        let bytes = tokio::select! {
            r = read => r.map_err(|e| {
                BuildError::msg(format!("cannot read `{}`: {e}", self.path.display()))
            })?,
            _ = cx.cancel.cancelled() => return Err(BuildError::Cancelled),
        };
        let content = String::from_utf8_lossy(&bytes).into_owned();
        let all: Vec<&str> = content.lines().collect();
        let keep = self
            .max_lines
            .map(|m| m.min(all.len() as u64) as usize)
            .unwrap_or(all.len());
        Ok(json!({
            "path": self.path.display().to_string(),
            "content": content,
            "lines": &all[..keep],
            "line_count": all.len(),
            "size": bytes.len(),
            "sha256": hex::encode(sha2::Sha256::digest(&bytes)),
        }))
    }
}
